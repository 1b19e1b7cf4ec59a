import CDNNL
import Foundation

/// oneDNN's CPU engine and stream, the primitives created so far (one per pass and shape), and the
/// scratch buffers they share.
///
/// Creating a oneDNN primitive JIT-compiles its kernel (milliseconds), so each is made once per
/// (pass, shape, geometry) and kept. The buffers in the primitive's own layout (e.g. `nChw16c`) and its
/// scratchpad live in a few grow-only slots that every primitive shares, so memory does not grow
/// with the number of shapes seen. One lock guards the cache, the slots and the stream (a oneDNN
/// stream is not thread-safe): two threads calling in at once run one after the other, each with all
/// the cores. (oneDNN developer guide, "Primitive cache" and "Memory: data handles".)
final class DNNLRuntime: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// Scratchpad mode `user`: we hand each primitive its scratchpad from a shared slot instead of
    /// letting every primitive hold its own.
    let attributes: dnnl_primitive_attr_t
    /// oneDNN's OpenMP team size: the same worker count as `Parallel`, so the two never run more
    /// threads than cores between them (they never run at the same time: ops are issued one by one).
    let threads: Int32

    private let lock = NSLock()
    private var plans: [DNNLPlanKey: DNNLPlan] = [:]
    /// Slot i holds the primitive-layout copy of argument i (when it needs one); then the scratchpad.
    private var slots: [DNNLScratch] = []
    private var scratchpadSlot = DNNLScratch()
    /// Plans kept at most; past it the cache starts afresh (a new batch size each call would grow it).
    static let planLimit = 256

    init(threads: Int) {
        self.threads = Int32(threads)
        var engine: dnnl_engine_t?
        dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        self.engine = engine!
        var stream: dnnl_stream_t?
        dnnlCheck(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "creating a stream")
        self.stream = stream!
        var attributes: dnnl_primitive_attr_t?
        dnnlCheck(dnnl_primitive_attr_create(&attributes), "creating primitive attributes")
        dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "setting the scratchpad mode")
        self.attributes = attributes!
    }

    deinit {
        plans.removeAll()
        for i in slots.indices { slots[i].release() }
        scratchpadSlot.release()
        dnnl_primitive_attr_destroy(attributes)
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    /// The plan for `key`, made by `make` the first time, for the runtime's `threads`.
    func plan(_ key: DNNLPlanKey, make: (DNNLRuntime) -> DNNLPlan) -> DNNLPlan {
        lock.lock()
        defer { lock.unlock() }
        setThreads(threads)
        if let cached = plans[key] { return cached }
        if plans.count >= Self.planLimit { plans.removeAll() }
        let plan = make(self)
        plans[key] = plan
        return plan
    }

    /// Runs `plan` on the caller's buffers, one per argument in the order of `plan.arguments`, each in
    /// that argument's `given` layout: reorders the inputs that the primitive wants in another layout,
    /// executes, reorders such outputs back, and waits. `stamps[i]`, when given for a `keepsReorder`
    /// argument (weights), skips its reorder if the plan keeps a reorder of exactly those values.
    func execute(_ plan: DNNLPlan, _ buffers: [UnsafeRawPointer], stamps: [Int: Tensor.Stamp] = [:]) {
        precondition(buffers.count == plan.arguments.count, "\(buffers.count) buffers for \(plan.arguments.count) arguments")
        lock.lock()
        defer { lock.unlock() }
        setThreads(threads)
        while slots.count < buffers.count { slots.append(DNNLScratch()) }
        var arguments: [dnnl_exec_arg_t] = []
        for (i, boundary) in plan.arguments.enumerated() {
            boundary.bindGiven(UnsafeMutableRawPointer(mutating: buffers[i]))
            if boundary.keepsReorder {
                boundary.reorderIfChanged(stamps[i], stream)
            } else {
                if boundary.inner != nil { boundary.bindInner(slots[i].reserve(boundary.innerBytes)) }
                if !boundary.isOutput { boundary.reorder(stream) }
            }
            arguments.append(dnnl_exec_arg_t(arg: boundary.argument, memory: boundary.primitiveMemory))
        }
        dnnlCheck(dnnl_memory_set_data_handle(plan.scratchpad, scratchpadSlot.reserve(plan.scratchpadBytes)), "binding the scratchpad")
        arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: plan.scratchpad))
        dnnlCheck(dnnl_primitive_execute(plan.primitive, stream, Int32(arguments.count), arguments), "executing \(plan.key)")
        for boundary in plan.arguments where boundary.isOutput { boundary.reorder(stream) }
        dnnlCheck(dnnl_stream_wait(stream), "waiting for the stream")
    }

    /// The shared attributes, or with `relu` a copy with a ReLU post-op (oneDNN applies it to each
    /// output element as it is written); the caller destroys a copy once its primitive is described.
    func attributes(relu: Bool) -> dnnl_primitive_attr_t? {
        guard relu else { return attributes }
        var copy: dnnl_primitive_attr_t?, postOps: dnnl_post_ops_t?
        dnnlCheck(dnnl_primitive_attr_clone(&copy, attributes), "copying primitive attributes")
        dnnlCheck(dnnl_post_ops_create(&postOps), "creating post-ops")
        defer { dnnl_post_ops_destroy(postOps) }
        dnnlCheck(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "appending a ReLU post-op")
        dnnlCheck(dnnl_primitive_attr_set_post_ops(copy, postOps), "setting post-ops")
        return copy
    }

    /// OpenMP's team size is a per-thread setting, and oneDNN reads it both when it creates a
    /// primitive (to partition the work) and when it runs one: set it on whichever thread calls.
    private func setThreads(_ count: Int32) {
        if omp_get_max_threads() != count { omp_set_num_threads(count) }
    }

    /// The implementation oneDNN chose for each plan made so far (e.g. `jit:avx512_core`,
    /// `jit_wino_4x3:avx512_core`), for tests and the bench.
    func implementations() -> [DNNLPlanKey: String] {
        lock.lock()
        defer { lock.unlock() }
        return plans.mapValues(\.implementation)
    }
}

/// What identifies a primitive: the pass, the shapes, geometry and layouts, and the algorithm or flags asked for.
struct DNNLPlanKey: Hashable, Sendable, CustomStringConvertible {
    enum Pass: String, Sendable {
        case convolutionForward, convolutionBackwardData, convolutionBackwardWeights, batchNormForward, batchNormBackward
    }
    var pass: Pass
    /// N, C, H, W of the layer's input.
    var batch, channels, height, width: Int
    /// The layouts of the caller's activation arguments (input, and output gradient for backward passes).
    var layouts: [TensorLayout]
    /// Convolutions: output channels, geometry, Winograd asked for.
    var outChannels = 0
    var geometry: Conv2DGeometry? = nil
    var winograd = false
    /// Convolution forward: a bias argument, and a ReLU post-op.
    var bias = false
    var relu = false
    /// Batch norm: oneDNN's `dnnl_normalization_flags_t` bits and ε.
    var flags: UInt32 = 0
    var epsilon: Float = 0

    var dims: [Int] { [batch, channels, height, width] }

    var description: String {
        var s = "\(pass.rawValue) [\(batch), \(channels), \(height), \(width)] \(layouts.map(\.description).joined(separator: "/"))"
        if let geometry { s += " → \(outChannels) channels, \(geometry)\(winograd ? ", Winograd" : "")\(bias ? ", bias" : "")\(relu ? ", ReLU" : "")" }
        if flags != 0 { s += ", flags \(flags)" }
        return s
    }
}

/// A primitive with its arguments in the order `DNNLRuntime.execute` takes their buffers.
final class DNNLPlan {
    let key: DNNLPlanKey
    let primitive: dnnl_primitive_t
    let arguments: [DNNLBoundary]
    let scratchpad: dnnl_memory_t
    let scratchpadBytes: Int
    /// Bytes of the workspace a forward pass writes for its backward pass (batch norm's ReLU mask); 0 if none.
    let workspaceBytes: Int
    let implementation: String

    /// One argument: its execution argument, the layout the caller's buffer has, and the query for the
    /// layout the primitive chose (nil: the primitive takes the caller's layout as it is).
    struct Argument {
        var argument: Int32
        var given: dnnl_memory_desc_t
        var query: dnnl_query_t?
        var isOutput: Bool
        /// For an activation: the `Tensor` layout of `given`.
        var layout: TensorLayout = .plain
        /// An input whose values repeat across calls (weights: ten PGD steps, one training step's
        /// forward and backward passes): reordered into a buffer of its own, again only when they change.
        var keepsReorder = false
    }

    /// The layout in which the caller allocates the first output.
    let outputLayout: TensorLayout

    init(key: DNNLPlanKey, runtime: DNNLRuntime, descriptor: dnnl_primitive_desc_t, arguments: [Argument]) {
        self.key = key
        outputLayout = arguments.first(where: \.isOutput)?.layout ?? .plain
        var primitive: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&primitive, descriptor), "creating a primitive for \(key)")
        self.primitive = primitive!
        self.arguments = arguments.map { a in
            DNNLBoundary(argument: a.argument, given: a.given,
                         chosen: a.query.map { dnnl_primitive_desc_query_md(descriptor, $0, 0).pointee } ?? a.given,
                         isOutput: a.isOutput, keepsReorder: a.keepsReorder, engine: runtime.engine)
        }
        if var workspace = dnnl_primitive_desc_query_md(descriptor, dnnl_query_workspace_md, 0)?.pointee {
            workspaceBytes = dnnl_memory_desc_get_size(&workspace)
        } else {
            workspaceBytes = 0
        }
        var scratchpadDescriptor = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).pointee
        scratchpadBytes = dnnl_memory_desc_get_size(&scratchpadDescriptor)
        var scratchpad: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&scratchpad, &scratchpadDescriptor, runtime.engine, atalp_dnnl_memory_none()), "creating the scratchpad")
        self.scratchpad = scratchpad!
        var name: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name)
        implementation = name.map { String(cString: $0) } ?? "?"
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_memory_destroy(scratchpad)
    }
}

/// One tensor argument of a primitive at the call boundary: the caller's memory in its layout (plain
/// NCHW/OIHW or blocked `nChw16c`) and, when the primitive chose another layout (format `any`), its
/// own memory and the reorder between them.
final class DNNLBoundary {
    let argument: Int32
    let given: dnnl_memory_t
    let inner: dnnl_memory_t?
    /// given → inner for an input, inner → given for an output.
    let reorderPrimitive: dnnl_primitive_t?
    let isOutput: Bool
    let innerBytes: Int
    /// An input reordered into a buffer of its own and kept (see `DNNLPlan.Argument.keepsReorder`);
    /// only when a reorder is needed at all.
    let keepsReorder: Bool
    /// The kept reorders, least recently used first, one per storage: layers of one shape share a plan
    /// (ResNet-20's six 16-channel 3×3 convolutions of layer1), and with one buffer each call would
    /// evict the previous layer's weights (34 weight reorders per PGD step, 3.5 % of it). At most
    /// `keptCount` storages and `keptBytes` per boundary: a weight that gets a new storage every step
    /// (copy on write while a tape still shares it) must not pile up copies, and large weights
    /// (ResNet-18's layer4: 9.4 MB) keep one.
    private var kept: [(stamp: Tensor.Stamp, buffer: DNNLScratch)] = []
    private var unstamped = DNNLScratch()
    static let keptBytes = 16 << 20
    static let keptCount = 8

    init(argument: Int32, given givenDescriptor: dnnl_memory_desc_t, chosen chosenDescriptor: dnnl_memory_desc_t,
         isOutput: Bool, keepsReorder: Bool = false, engine: dnnl_engine_t) {
        self.argument = argument
        self.isOutput = isOutput
        var givenMD = givenDescriptor, chosenMD = chosenDescriptor
        var given: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&given, &givenMD, engine, atalp_dnnl_memory_none()), "creating memory in the caller's layout")
        self.given = given!
        innerBytes = dnnl_memory_desc_get_size(&chosenMD)
        if dnnl_memory_desc_equal(&givenMD, &chosenMD) != 0 {
            inner = nil
            reorderPrimitive = nil
            self.keepsReorder = false
            return
        }
        self.keepsReorder = keepsReorder && !isOutput
        var inner: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&inner, &chosenMD, engine, atalp_dnnl_memory_none()), "creating memory in the primitive's layout")
        self.inner = inner!
        var descriptor: dnnl_primitive_desc_t?
        if isOutput {
            dnnlCheck(dnnl_reorder_primitive_desc_create(&descriptor, &chosenMD, engine, &givenMD, engine, nil), "describing a reorder")
        } else {
            dnnlCheck(dnnl_reorder_primitive_desc_create(&descriptor, &givenMD, engine, &chosenMD, engine, nil), "describing a reorder")
        }
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var reorder: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&reorder, descriptor), "creating a reorder")
        reorderPrimitive = reorder!
    }

    deinit {
        for var entry in kept { entry.buffer.release() }
        unstamped.release()
        if let reorderPrimitive { dnnl_primitive_destroy(reorderPrimitive) }
        if let inner { dnnl_memory_destroy(inner) }
        dnnl_memory_destroy(given)
    }

    /// The memory the primitive itself reads or writes.
    var primitiveMemory: dnnl_memory_t { inner ?? given }

    func bindGiven(_ pointer: UnsafeMutableRawPointer) {
        dnnlCheck(dnnl_memory_set_data_handle(given, pointer), "binding the caller's buffer")
    }

    func bindInner(_ pointer: UnsafeMutableRawPointer) {
        dnnlCheck(dnnl_memory_set_data_handle(inner, pointer), "binding a buffer in the primitive's layout")
    }

    /// For a `keepsReorder` input: binds the kept reorder of `stamp`'s storage, reordering only if its
    /// values changed since (or it was never reordered); without a stamp, reorders every call.
    func reorderIfChanged(_ stamp: Tensor.Stamp?, _ stream: dnnl_stream_t) {
        guard let stamp else {
            bindInner(unstamped.reserve(innerBytes))
            reorder(stream)
            return
        }
        var entry: (stamp: Tensor.Stamp, buffer: DNNLScratch)
        var fresh = true
        if let i = kept.firstIndex(where: { $0.stamp.storage == stamp.storage }) {
            entry = kept.remove(at: i)
            fresh = entry.stamp.version != stamp.version
        } else if !kept.isEmpty && (kept.count == Self.keptCount || (kept.count + 1) * innerBytes > Self.keptBytes) {
            entry = kept.removeFirst()
        } else {
            entry = (stamp, DNNLScratch())
        }
        bindInner(entry.buffer.reserve(innerBytes))
        if fresh { reorder(stream) }
        entry.stamp = stamp
        kept.append(entry)
    }

    /// Converts between the two layouts in this boundary's direction; nothing when they agree. Small
    /// ones (weights and their gradients: ResNet-20's largest is 147 KB) run on the calling thread:
    /// waking OpenMP's team cost more than the copy.
    func reorder(_ stream: dnnl_stream_t) {
        guard let reorderPrimitive, let inner else { return }
        let arguments = isOutput
            ? [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: inner), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: given)]
            : [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: given), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: inner)]
        let team = omp_get_max_threads()
        let alone = innerBytes <= Self.aloneBytes && team > 1
        if alone { omp_set_num_threads(1) }
        defer { if alone { omp_set_num_threads(team) } }
        Profiler.measure("oneDNN: boundary reorder") {
            dnnlCheck(dnnl_primitive_execute(reorderPrimitive, stream, 2, arguments), "reordering")
        }
    }

    /// Reorders of at most this many bytes run on one thread.
    static let aloneBytes = 256 << 10
}

/// A grow-only, 64-byte-aligned buffer (AVX-512 loads are fastest aligned).
struct DNNLScratch {
    private var pointer: UnsafeMutableRawPointer?
    private var bytes = 0

    mutating func reserve(_ count: Int) -> UnsafeMutableRawPointer {
        if pointer == nil || count > bytes {
            pointer?.deallocate()
            bytes = max(count, 64)
            pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
        return pointer!
    }

    mutating func release() {
        pointer?.deallocate()
        pointer = nil
        bytes = 0
    }
}

/// A memory descriptor for f32 `dims` in layout `tag` (`dnnl_nchw`, `dnnl_oihw`, or `dnnl_format_tag_any`
/// to let the primitive choose).
func dnnlMemoryDescriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
    var descriptor = dnnl_memory_desc_t()
    let dims64 = dims.map(Int64.init)
    dnnlCheck(dnnl_memory_desc_init_by_tag(&descriptor, Int32(dims64.count), dims64, dnnl_f32, tag), "describing \(dims)")
    return descriptor
}

/// oneDNN reports errors by status; every one here is a bug or an unsupported machine, not bad input.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    precondition(status == dnnl_success, "oneDNN: \(what()) failed (status \(status.rawValue))")
}

/// The memory descriptor of an N×C×H×W activation stored in `layout`.
func dnnlMemoryDescriptor(_ dims: [Int], _ layout: TensorLayout) -> dnnl_memory_desc_t {
    dnnlMemoryDescriptor(dims, layout == .plain ? dnnl_nchw : dnnl_nChw16c)
}

/// Whether a primitive's chosen layout for an N×C×H×W activation is one a `Tensor` can hold:
/// blocked when it is exactly `nChw16c` (C a multiple of 16), else plain (reordered at the boundary).
func dnnlTensorLayout(of chosen: dnnl_memory_desc_t, dims: [Int]) -> TensorLayout {
    guard TensorLayout.channelBlocked16.admits(dims) else { return .plain }
    var chosen = chosen, blocked = dnnlMemoryDescriptor(dims, .channelBlocked16)
    return dnnl_memory_desc_equal(&chosen, &blocked) != 0 ? .channelBlocked16 : .plain
}
