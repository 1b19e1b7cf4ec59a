/// `SeededRandom` lives in the small Randomness target (shared with Data and Store, which do not
/// depend on Tensors); everything that imports Tensors sees it as before.
@_exported import Randomness
