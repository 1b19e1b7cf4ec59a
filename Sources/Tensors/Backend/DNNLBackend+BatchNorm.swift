import CDNNL

/// Batch normalisation (with the fused ReLU of conv → BN → ReLU) on oneDNN's primitive, forward and
/// backward side by side, on the caller's layout (blocked activations stay blocked).
///
/// Same formulas as the reference (`CPUBackend+BatchNorm`): biased batch variance, σ⁻¹ = 1/√(var + ε);
/// with fixed statistics (`use_global_stats`) the backward pass is dx = γσ⁻¹·dy. oneDNN sums in single
/// precision where the reference uses double: the two agree to 5e-7 relative (DNNLBatchNormTests).
/// Only blocked inputs go to oneDNN: on plain NCHW its batch norm took 135 ms a ResNet-20 training step
/// against 7.4 ms blocked (issue 19's measurement) and the reference's 48 ms, so row-major inputs (a
/// channel count that is not a multiple of 16, a max-pool's output) stay on the reference kernels; and
/// blocked ones with fewer 16-channel blocks than threads go to `BlockedBatchNorm` (`runsBlockedKernel`).
/// The forward pass always uses `forward_training`, even with fixed statistics: attacks differentiate
/// through evaluation-mode networks, and the fused ReLU's backward needs the workspace only training
/// mode writes. The backward pass's mask of a fused ReLU is that workspace, not the output.
extension DNNLBackend {
    public func batchNormForward(_ x: Tensor, gamma: Tensor, beta: Tensor, mode: BatchNormMode, epsilon: Float, relu: Bool) -> BatchNormForwardResult {
        guard x.rank == 4, x.count > 0, x.layout == .channelBlocked16 else {
            return reference.batchNormForward(x, gamma: gamma, beta: beta, mode: mode, epsilon: epsilon, relu: relu)
        }
        if runsBlockedKernel(x) {
            return BlockedBatchNorm.forward(x, gamma: gamma, beta: beta, mode: mode, epsilon: epsilon, relu: relu)
        }
        let (n, c, h, w) = x.nchw
        precondition(gamma.count == c && beta.count == c, "batch norm parameters of size \(gamma.count) for \(c) channels")
        var flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | (relu ? dnnl_fuse_norm_relu.rawValue : 0)
        var fixed: (mean: Tensor, variance: Tensor)? = nil
        if case let .fixed(mean, variance) = mode {
            fixed = (mean, variance)
            flags |= dnnl_use_global_stats.rawValue
        } else {
            precondition(n * h * w > 1, "batch norm in training mode needs more than one value per channel, got input \(x.shape)")
        }
        let key = DNNLPlanKey(pass: .batchNormForward, batch: n, channels: c, height: h, width: w, layouts: [x.layout],
                              flags: flags, epsilon: epsilon)
        let plan = runtime.plan(key, make: Self.makeBatchNormPlan(key))
        var mean = fixed?.mean ?? Tensor(shape: [c]), variance = fixed?.variance ?? Tensor(shape: [c])
        var workspace: Tensor? = relu ? Tensor(shape: [(plan.workspaceBytes + 3) / 4]) : nil
        // Batch statistics are written by the primitive; fixed ones only read (and stay shared with the layer).
        let statistics = fixed == nil ? [mutableAddress(&mean), mutableAddress(&variance)] : [address(mean), address(variance)]
        let output = Tensor(shape: x.shape, layout: x.layout) { out in
            // Argument order of `makeBatchNormPlan`: src, scale, shift, [mean, variance], dst, [mean, variance], [workspace].
            var buffers = [address(x), address(gamma), address(beta)]
            if fixed != nil { buffers += statistics }
            buffers.append(UnsafeRawPointer(out.baseAddress!))
            if fixed == nil { buffers += statistics }
            if relu { buffers.append(mutableAddress(&workspace!)) }
            runtime.execute(plan, buffers)
        }
        let m = Float(n * h * w)
        let inverseStd = variance.map { 1 / ($0 + epsilon).squareRoot() }
        let unbiased = fixed == nil ? variance * (m / (m - 1)) : nil
        return BatchNormForwardResult(output: output, mean: mean, inverseStd: inverseStd, unbiasedVariance: unbiased,
                                      variance: variance, workspace: workspace, epsilon: epsilon)
    }

    public func batchNormBackward(gradOutput dy: Tensor, input x: Tensor, gamma: Tensor, saved: BatchNormForwardResult, reluOutput: Tensor?,
                                  needInput: Bool, needAffine: Bool) -> (input: Tensor?, gamma: Tensor?, beta: Tensor?) {
        guard needInput || needAffine else { return (nil, nil, nil) }
        if x.rank == 4, x.count > 0, x.layout == .channelBlocked16, runsBlockedKernel(x) {
            return BlockedBatchNorm.backward(gradOutput: dy, input: x, gamma: gamma, saved: saved, reluOutput: reluOutput,
                                             needInput: needInput, needAffine: needAffine)
        }
        // A result the reference made (no variance: a plain input), or a ReLU without its workspace, goes to the reference.
        guard x.rank == 4, x.count > 0, let variance = saved.variance, let epsilon = saved.epsilon,
              reluOutput == nil || saved.workspace != nil else {
            return reference.batchNormBackward(gradOutput: dy, input: x, gamma: gamma, saved: saved, reluOutput: reluOutput,
                                               needInput: needInput, needAffine: needAffine)
        }
        let (n, c, h, w) = x.nchw
        let relu = reluOutput != nil
        let batchStatistics = saved.unbiasedVariance != nil
        let flags = dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | (relu ? dnnl_fuse_norm_relu.rawValue : 0)
            | (batchStatistics ? 0 : dnnl_use_global_stats.rawValue)
        let key = DNNLPlanKey(pass: .batchNormBackward, batch: n, channels: c, height: h, width: w, layouts: [x.layout],
                              flags: flags, epsilon: epsilon)
        let plan = runtime.plan(key, make: Self.makeBatchNormPlan(key))
        let dy = dy.converted(to: x.layout)
        var dGamma = Tensor(shape: [c]), dBeta = Tensor(shape: [c])
        // oneDNN 2.6 takes a shift argument in the backward pass but does not use it for any gradient.
        let unusedShift = Tensor(shape: [c])
        let dx = Tensor(shape: x.shape, layout: x.layout) { out in
            // Argument order of `makeBatchNormPlan`: src, diff_dst, mean, variance, scale, shift, [workspace], diff_src, diff_scale, diff_shift.
            var buffers = [address(x), address(dy), address(saved.mean), address(variance), address(gamma), address(unusedShift)]
            if relu { buffers.append(address(saved.workspace!)) }
            buffers.append(UnsafeRawPointer(out.baseAddress!))
            buffers += [mutableAddress(&dGamma), mutableAddress(&dBeta)]
            runtime.execute(plan, buffers)
        }
        return (needInput ? dx : nil, needAffine ? dGamma : nil, needAffine ? dBeta : nil)
    }

    /// Whether a blocked tensor goes to atalp's own kernel (`BlockedBatchNorm`) instead of oneDNN's:
    /// when it has fewer 16-channel blocks than threads. oneDNN 2.6 then splits a block's images across
    /// threads and joins them with spin barriers between the statistics and the normalisation; when
    /// another process holds a core for a moment, the spinning thread waits out the scheduler's time
    /// slice. Measured (`benchmarks/onednn/batchnorm.c`, batch 128, 16 channels, 28×28, forward with
    /// ReLU, while another process ran on the second core): 0.43 ms on one thread, 3.8–24 ms on two; 32
    /// and 64 channels (two and four blocks) ran 0.19 and 0.10 ms on either. Before the own kernel, such
    /// tensors ran on one thread (1.3 ms forward, 1.8 ms backward a call inside a ResNet-20 training
    /// step, 14 % of it).
    func runsBlockedKernel(_ x: Tensor) -> Bool {
        x.shape[1] / TensorLayout.blockSize < Int(runtime.threads)
    }

    /// The forward or backward primitive of `key`. The backward one is made with the forward one (same
    /// flags, training) as its hint, as oneDNN requires, and always computes γ and β gradients: 2.6
    /// has no backward-data kernel with scale and shift.
    static func makeBatchNormPlan(_ key: DNNLPlanKey) -> (DNNLRuntime) -> DNNLPlan {
        { runtime in
            var data = dnnlMemoryDescriptor(key.dims, key.layouts[0])
            let perChannel = dnnlMemoryDescriptor([key.channels], dnnl_a)
            let global = key.flags & dnnl_use_global_stats.rawValue != 0
            let relu = key.flags & dnnl_fuse_norm_relu.rawValue != 0
            func argument(_ a: Int32, _ md: dnnl_memory_desc_t, output: Bool = false, layout: TensorLayout = .plain) -> DNNLPlan.Argument {
                DNNLPlan.Argument(argument: a, given: md, query: nil, isOutput: output, layout: layout)
            }
            var forward = dnnl_batch_normalization_desc_t()
            dnnlCheck(dnnl_batch_normalization_forward_desc_init(&forward, dnnl_forward_training, &data, key.epsilon, key.flags),
                      "describing \(key)")
            var forwardDescriptor: dnnl_primitive_desc_t?
            let forwardAttributes = key.pass == .batchNormForward ? runtime.attributes : nil
            dnnlCheck(dnnl_primitive_desc_create(&forwardDescriptor, &forward, forwardAttributes, runtime.engine, nil), "creating \(key)")
            defer { dnnl_primitive_desc_destroy(forwardDescriptor) }
            let workspace = dnnl_primitive_desc_query_md(forwardDescriptor, dnnl_query_workspace_md, 0).pointee

            if key.pass == .batchNormForward {
                var arguments = [argument(DNNL_ARG_SRC, data), argument(DNNL_ARG_SCALE, perChannel), argument(DNNL_ARG_SHIFT, perChannel)]
                let statistics = [argument(DNNL_ARG_MEAN, perChannel, output: !global), argument(DNNL_ARG_VARIANCE, perChannel, output: !global)]
                if global { arguments += statistics }
                arguments.append(argument(DNNL_ARG_DST, data, output: true, layout: key.layouts[0]))
                if !global { arguments += statistics }
                if relu { arguments.append(argument(DNNL_ARG_WORKSPACE, workspace, output: true)) }
                return DNNLPlan(key: key, runtime: runtime, descriptor: forwardDescriptor!, arguments: arguments)
            }
            var backward = dnnl_batch_normalization_desc_t()
            dnnlCheck(dnnl_batch_normalization_backward_desc_init(&backward, dnnl_backward, &data, &data, key.epsilon, key.flags),
                      "describing \(key)")
            var descriptor: dnnl_primitive_desc_t?
            dnnlCheck(dnnl_primitive_desc_create(&descriptor, &backward, runtime.attributes, runtime.engine, forwardDescriptor), "creating \(key)")
            defer { dnnl_primitive_desc_destroy(descriptor) }
            var arguments = [argument(DNNL_ARG_SRC, data), argument(DNNL_ARG_DIFF_DST, data), argument(DNNL_ARG_MEAN, perChannel),
                             argument(DNNL_ARG_VARIANCE, perChannel), argument(DNNL_ARG_SCALE, perChannel), argument(DNNL_ARG_SHIFT, perChannel)]
            if relu { arguments.append(argument(DNNL_ARG_WORKSPACE, workspace)) }
            arguments.append(argument(DNNL_ARG_DIFF_SRC, data, output: true, layout: key.layouts[0]))
            arguments += [argument(DNNL_ARG_DIFF_SCALE, perChannel, output: true), argument(DNNL_ARG_DIFF_SHIFT, perChannel, output: true)]
            return DNNLPlan(key: key, runtime: runtime, descriptor: descriptor!, arguments: arguments)
        }
    }
}

/// The address of a tensor's storage, in its own layout, for a oneDNN argument. The caller keeps the
/// tensor alive until the primitive has run.
func address(_ t: Tensor) -> UnsafeRawPointer {
    t.withUnsafeStorage { b, _ in UnsafeRawPointer(b.baseAddress!) }
}

/// The address of a tensor's storage for a oneDNN output (made unique first, so no copy shares it).
func mutableAddress(_ t: inout Tensor) -> UnsafeRawPointer {
    t.withUnsafeMutableStorage { b, _ in UnsafeRawPointer(b.baseAddress!) }
}
