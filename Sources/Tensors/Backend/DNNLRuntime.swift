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
    /// Slot i holds the primitive-layout copy of argument i; the last slot is the scratchpad.
    private var slots = [DNNLScratch](repeating: DNNLScratch(), count: DNNLRuntime.scratchpadSlot + 1)
    static let scratchpadSlot = 3
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
        dnnl_primitive_attr_destroy(attributes)
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    /// Runs the plan for `key` (made by `make` the first time) on plain-layout buffers: reorders
    /// each input into the primitive's layout, executes, reorders the output back.
    func run(_ key: DNNLPlanKey, inputs: [UnsafeRawPointer], output: UnsafeMutableRawPointer,
             make: (DNNLRuntime) -> DNNLPlan) {
        lock.lock()
        defer { lock.unlock() }
        // OpenMP's team size is a per-thread setting, and oneDNN reads it both when it creates a
        // primitive (to partition the work) and when it runs one: set it on whichever thread calls.
        if omp_get_max_threads() != threads { omp_set_num_threads(threads) }
        let plan: DNNLPlan
        if let cached = plans[key] {
            plan = cached
        } else {
            if plans.count >= Self.planLimit { plans.removeAll() }
            plan = make(self)
            plans[key] = plan
        }
        precondition(inputs.count == plan.inputs.count && plan.inputs.count < Self.scratchpadSlot)

        var arguments: [dnnl_exec_arg_t] = []
        for (i, boundary) in plan.inputs.enumerated() {
            boundary.bindPlain(UnsafeMutableRawPointer(mutating: inputs[i]))
            if boundary.inner != nil { boundary.bindInner(slots[i].reserve(boundary.innerBytes)) }
            boundary.reorder(stream)
            arguments.append(dnnl_exec_arg_t(arg: boundary.argument, memory: boundary.primitiveMemory))
        }
        let out = plan.output
        out.bindPlain(output)
        if out.inner != nil { out.bindInner(slots[plan.inputs.count].reserve(out.innerBytes)) }
        arguments.append(dnnl_exec_arg_t(arg: out.argument, memory: out.primitiveMemory))
        dnnlCheck(dnnl_memory_set_data_handle(plan.scratchpad, slots[Self.scratchpadSlot].reserve(plan.scratchpadBytes)),
                  "binding the scratchpad")
        arguments.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: plan.scratchpad))

        dnnlCheck(dnnl_primitive_execute(plan.primitive, stream, Int32(arguments.count), arguments), "executing \(key)")
        out.reorder(stream)
        dnnlCheck(dnnl_stream_wait(stream), "waiting for the stream")
    }

    /// The implementation oneDNN chose for each plan made so far (e.g. `jit:avx512_core`,
    /// `jit_wino_4x3:avx512_core`), for tests and the bench.
    func implementations() -> [DNNLPlanKey: String] {
        lock.lock()
        defer { lock.unlock() }
        return plans.mapValues(\.implementation)
    }
}

/// What identifies a primitive: the pass, the shapes and geometry, and the algorithm asked for.
struct DNNLPlanKey: Hashable, Sendable, CustomStringConvertible {
    enum Pass: String, Sendable { case convolutionForward, convolutionBackwardData, convolutionBackwardWeights }
    var pass: Pass
    /// N, C, H, W of the convolution's input and O, its output channels.
    var batch, channels, height, width, outChannels: Int
    var geometry: Conv2DGeometry
    var winograd: Bool

    var description: String {
        "\(pass.rawValue) [\(batch), \(channels), \(height), \(width)] → \(outChannels) channels, \(geometry)\(winograd ? ", Winograd" : "")"
    }
}

/// A primitive with its arguments: the inputs in order, then the output.
final class DNNLPlan {
    let primitive: dnnl_primitive_t
    let inputs: [DNNLBoundary]
    let output: DNNLBoundary
    let scratchpad: dnnl_memory_t
    let scratchpadBytes: Int
    let implementation: String

    /// Makes the primitive of `descriptor` and, for each argument, its boundary with the plain layout.
    /// `inputs`/`output`: (execution argument, the plain memory descriptor, the query for the primitive's own).
    init(runtime: DNNLRuntime, descriptor: dnnl_primitive_desc_t,
         inputs: [(Int32, dnnl_memory_desc_t, dnnl_query_t)], output: (Int32, dnnl_memory_desc_t, dnnl_query_t)) {
        var primitive: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&primitive, descriptor), "creating a primitive")
        self.primitive = primitive!
        self.inputs = inputs.map { arg, plain, query in
            DNNLBoundary(argument: arg, plain: plain, chosen: dnnl_primitive_desc_query_md(descriptor, query, 0).pointee,
                         isOutput: false, engine: runtime.engine)
        }
        self.output = DNNLBoundary(argument: output.0, plain: output.1,
                                   chosen: dnnl_primitive_desc_query_md(descriptor, output.2, 0).pointee,
                                   isOutput: true, engine: runtime.engine)
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

/// One tensor argument of a primitive at the call boundary: the caller's plain NCHW/OIHW memory and,
/// when the primitive chose another layout (format `any`), its own memory and the reorder between them.
final class DNNLBoundary {
    let argument: Int32
    let plain: dnnl_memory_t
    let inner: dnnl_memory_t?
    /// plain → inner for an input, inner → plain for an output.
    let reorderPrimitive: dnnl_primitive_t?
    let isOutput: Bool
    let innerBytes: Int

    init(argument: Int32, plain plainDescriptor: dnnl_memory_desc_t, chosen chosenDescriptor: dnnl_memory_desc_t,
         isOutput: Bool, engine: dnnl_engine_t) {
        self.argument = argument
        self.isOutput = isOutput
        var plainMD = plainDescriptor, chosenMD = chosenDescriptor
        var plain: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&plain, &plainMD, engine, atalp_dnnl_memory_none()), "creating plain memory")
        self.plain = plain!
        innerBytes = dnnl_memory_desc_get_size(&chosenMD)
        if dnnl_memory_desc_equal(&plainMD, &chosenMD) != 0 {
            inner = nil
            reorderPrimitive = nil
            return
        }
        var inner: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&inner, &chosenMD, engine, atalp_dnnl_memory_none()), "creating memory in the primitive's layout")
        self.inner = inner!
        var descriptor: dnnl_primitive_desc_t?
        if isOutput {
            dnnlCheck(dnnl_reorder_primitive_desc_create(&descriptor, &chosenMD, engine, &plainMD, engine, nil), "describing a reorder")
        } else {
            dnnlCheck(dnnl_reorder_primitive_desc_create(&descriptor, &plainMD, engine, &chosenMD, engine, nil), "describing a reorder")
        }
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var reorder: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&reorder, descriptor), "creating a reorder")
        reorderPrimitive = reorder!
    }

    deinit {
        if let reorderPrimitive { dnnl_primitive_destroy(reorderPrimitive) }
        if let inner { dnnl_memory_destroy(inner) }
        dnnl_memory_destroy(plain)
    }

    /// The memory the primitive itself reads or writes.
    var primitiveMemory: dnnl_memory_t { inner ?? plain }

    func bindPlain(_ pointer: UnsafeMutableRawPointer) {
        dnnlCheck(dnnl_memory_set_data_handle(plain, pointer), "binding a plain buffer")
    }

    func bindInner(_ pointer: UnsafeMutableRawPointer) {
        dnnlCheck(dnnl_memory_set_data_handle(inner, pointer), "binding a blocked buffer")
    }

    /// Converts between the two layouts in this boundary's direction; nothing when they agree.
    func reorder(_ stream: dnnl_stream_t) {
        guard let reorderPrimitive, let inner else { return }
        let arguments = isOutput
            ? [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: inner), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: plain)]
            : [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: plain), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: inner)]
        dnnlCheck(dnnl_primitive_execute(reorderPrimitive, stream, 2, arguments), "reordering")
    }
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
