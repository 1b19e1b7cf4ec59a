import CMPI
import Foundation

/// Whether this process runs under an MPI launcher, and MPI's one initialisation per process.
///
/// A process is *launched* when the environment carries a launcher's rank variables: Open MPI's
/// `mpirun`/`mpiexec` (`OMPI_COMM_WORLD_SIZE`), MPICH's Hydra and Slurm's `srun --mpi=pmi2`
/// (`PMI_SIZE`), or PMIx (`PMIX_RANK`, `srun --mpi=pmix`). Otherwise MPI is never initialised and
/// atalp runs as one process, exactly as without MPI. `ATALP_MPI=0` forces the single-process path.
public enum MPIRuntime {
    public static var isLaunched: Bool {
        let environment = ProcessInfo.processInfo.environment
        if environment["ATALP_MPI"] == "0" { return false }
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"].contains { environment[$0] != nil }
    }

    /// Ranks of the job on this node, from the launcher's environment (1 when not launched): what
    /// `Parallel.threadCount` divides the cores by.
    public static var localRanks: Int {
        guard isLaunched else { return 1 }
        let environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"] {
            if let s = environment[name], let n = Int(s), n > 0 { return n }
        }
        return 1
    }

    /// The job's communicator: MPI_Init_thread (serialized) on first use when launched, with
    /// MPI_Finalize registered to run at exit; `Communicator.single` otherwise.
    static let world: Communicator = {
        guard isLaunched else { return .single }
        var provided: Int32 = 0
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        let initialised = RankTimeline.span("MPI_Init") { MPI_Init_thread(&argc, &argv, atalp_mpi_thread_serialized(), &provided) }
        guard initialised == atalp_mpi_success() else {
            FileHandle.standardError.write(Data("atalp: MPI_Init_thread failed; running as one process\n".utf8))
            return .single
        }
        atexit { finalize() }
        let comm = atalp_mpi_comm_world()
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(comm, &rank)
        MPI_Comm_size(comm, &size)
        return Communicator(rank: Int(rank), size: Int(size), handle: comm)
    }()

    /// Whether MPI is initialised in this process (and not yet finalised).
    public static var isActive: Bool {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized); MPI_Finalized(&finalized)
        return initialized != 0 && finalized == 0
    }

    private static func finalize() {
        if isActive { MPI_Finalize() }
    }
}
