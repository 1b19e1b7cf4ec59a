import CDNNL

/// Convolution on oneDNN primitives: forward, backward-data and backward-weights side by side.
///
/// Each primitive is created with format `any`, so it picks its fastest layout (on AVX-512,
/// `nChw16c` activations and `OIhw16i16o`-style weights). Activations stay in that layout between
/// layers: an output (or input gradient) in `nChw16c` is handed back as a `.channelBlocked16` tensor,
/// and an input already blocked goes in without a reorder. Weights and weight gradients stay plain
/// OIHW (the optimiser and checkpoints read them); each plan keeps a reorder per weight tensor (the
/// layers of one shape share a plan) and reorders again only when its values change (`Tensor.stamp`):
/// the ten passes of a PGD attack reorder each weight once. A bias argument and a ReLU post-op make
/// the convolution of a folded batch norm one pass. The stem's input (1 or 3
/// channels) and anything a primitive wants in a layout a `Tensor` cannot hold are reordered at the
/// boundary (`DNNLBoundary`).
///
/// Winograd F(4×4, 3×3) (`dnnl_convolution_winograd`, Lavin & Gray 2016) is asked for on 3×3
/// stride-1 layers of at least 64 channels when `options.winograd` is on (`Options.usesWinograd`:
/// narrower layers are faster direct); where oneDNN has no Winograd kernel for a shape (or
/// for this CPU) it falls back to direct. It trades accuracy for speed: about 1e-6 relative error
/// against double precision, versus 2–5e-7 for direct (issue 19's measurements).
extension DNNLBackend {
    public func conv2d(_ x: Tensor, weight: Tensor, geometry g: Conv2DGeometry) -> Tensor {
        convolutionForward(x, weight: weight, bias: nil, relu: false, geometry: g)
    }

    /// The bias is the primitive's bias argument and the ReLU its eltwise post-op: one pass over the output.
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor, relu: Bool, geometry g: Conv2DGeometry) -> Tensor {
        precondition(bias.shape == [weight.shape[0]], "conv2d bias \(bias.shape) for \(weight.shape[0]) output channels")
        return convolutionForward(x, weight: weight, bias: bias, relu: relu, geometry: g)
    }

    private func convolutionForward(_ x: Tensor, weight: Tensor, bias: Tensor?, relu: Bool, geometry g: Conv2DGeometry) -> Tensor {
        let (n, c, h, w) = x.nchw
        precondition(weight.rank == 4 && weight.shape[1] == c && weight.shape[2] == g.kernelHeight && weight.shape[3] == g.kernelWidth,
                     "conv2d weight \(weight.shape) does not match input \(x.shape) with \(g)")
        let o = weight.shape[0], (oh, ow) = g.outputSize(height: h, width: w)
        guard n > 0 && c > 0 && o > 0 else {
            guard let bias else { return reference.conv2d(x, weight: weight, geometry: g) }
            return reference.conv2d(x, weight: weight, bias: bias, relu: relu, geometry: g)
        }
        var key = planKey(.convolutionForward, n: n, c: c, h: h, w: w, o: o, geometry: g, layouts: [x.layout])
        key.bias = bias != nil
        key.relu = relu
        let plan = runtime.plan(key, make: Self.makeConvolutionPlan(key))
        return x.withUnsafeStorage { xb, _ in weight.withUnsafeBufferPointer { wb in
            Tensor(shape: [n, o, oh, ow], layout: plan.outputLayout) { out in
                let buffers = [UnsafeRawPointer(xb.baseAddress!), UnsafeRawPointer(wb.baseAddress!)]
                    + (bias.map { [address($0)] } ?? []) + [UnsafeRawPointer(out.baseAddress!)]
                runtime.execute(plan, buffers, stamps: [1: weight.stamp])
            }
        } }
    }

    public func conv2dBackward(gradOutput dy: Tensor, input x: Tensor, weight: Tensor, geometry g: Conv2DGeometry,
                               needInput: Bool, needWeight: Bool) -> (input: Tensor?, weight: Tensor?) {
        guard needInput || needWeight else { return (nil, nil) }
        let (n, c, h, w) = x.nchw
        let o = weight.shape[0], (oh, ow) = g.outputSize(height: h, width: w)
        precondition(dy.shape == [n, o, oh, ow], "conv2d gradient \(dy.shape) does not match output [\(n), \(o), \(oh), \(ow)]")
        guard n > 0 && c > 0 && o > 0 else {
            return reference.conv2dBackward(gradOutput: dy, input: x, weight: weight, geometry: g, needInput: needInput, needWeight: needWeight)
        }
        var dx: Tensor? = nil, dw: Tensor? = nil
        dy.withUnsafeStorage { dyb, dyLayout in
            let dyP = UnsafeRawPointer(dyb.baseAddress!)
            if needInput {
                // dX = dY ⋆ᵀ W (the transposed convolution)
                let key = planKey(.convolutionBackwardData, n: n, c: c, h: h, w: w, o: o, geometry: g, layouts: [dyLayout])
                let plan = runtime.plan(key, make: Self.makeConvolutionPlan(key))
                dx = weight.withUnsafeBufferPointer { wb in
                    Tensor(shape: x.shape, layout: plan.outputLayout) { out in
                        runtime.execute(plan, [dyP, UnsafeRawPointer(wb.baseAddress!), UnsafeRawPointer(out.baseAddress!)],
                                        stamps: [1: weight.stamp])
                    }
                }
            }
            if needWeight {
                // dW = Σₙ dYₙ ⋆ Xₙ (correlation of the input with the output gradient)
                let key = planKey(.convolutionBackwardWeights, n: n, c: c, h: h, w: w, o: o, geometry: g, layouts: [x.layout, dyLayout])
                let plan = runtime.plan(key, make: Self.makeConvolutionPlan(key))
                dw = x.withUnsafeStorage { xb, _ in
                    Tensor(shape: weight.shape) { out in
                        runtime.execute(plan, [UnsafeRawPointer(xb.baseAddress!), dyP, UnsafeRawPointer(out.baseAddress!)])
                    }
                }
            }
        }
        return (dx, dw)
    }

    /// Winograd only where it applies (3×3, stride 1: oneDNN's F(4,3) kernels need both) and pays
    /// (`Options.winogradMinimumChannels`).
    func planKey(_ pass: DNNLPlanKey.Pass, n: Int, c: Int, h: Int, w: Int, o: Int, geometry g: Conv2DGeometry,
                 layouts: [TensorLayout]) -> DNNLPlanKey {
        let winograd = options.usesWinograd(g, inChannels: c, outChannels: o)
        return DNNLPlanKey(pass: pass, batch: n, channels: c, height: h, width: w, layouts: layouts,
                           outChannels: o, geometry: g, winograd: winograd)
    }

    /// Makes the primitive of one pass. Backward primitives need the forward one as a hint (oneDNN
    /// picks matching layouts and kernels from it), so that is described first.
    static func makeConvolutionPlan(_ key: DNNLPlanKey) -> (DNNLRuntime) -> DNNLPlan {
        { runtime in
            if key.winograd, let plan = makeConvolutionPlan(key, algorithm: dnnl_convolution_winograd, runtime: runtime) {
                return plan
            }
            guard let plan = makeConvolutionPlan(key, algorithm: dnnl_convolution_direct, runtime: runtime) else {
                preconditionFailure("oneDNN has no direct convolution for \(key)")
            }
            return plan
        }
    }

    /// nil when oneDNN has no implementation of `algorithm` for this shape.
    static func makeConvolutionPlan(_ key: DNNLPlanKey, algorithm: dnnl_alg_kind_t, runtime: DNNLRuntime) -> DNNLPlan? {
        let g = key.geometry!
        let (oh, ow) = g.outputSize(height: key.height, width: key.width)
        let srcDims = key.dims
        let weightDims = [key.outChannels, key.channels, g.kernelHeight, g.kernelWidth]
        let dstDims = [key.batch, key.outChannels, oh, ow]
        var src = dnnlMemoryDescriptor(srcDims, dnnl_format_tag_any)
        var weights = dnnlMemoryDescriptor(weightDims, dnnl_format_tag_any)
        var dst = dnnlMemoryDescriptor(dstDims, dnnl_format_tag_any)
        let strides: [Int64] = [Int64(g.strideHeight), Int64(g.strideWidth)]
        let padding: [Int64] = [Int64(g.padHeight), Int64(g.padWidth)]
        // Right/bottom padding as large as the left/top one: oneDNN checks (H + pl + pr − K)/S + 1 = Ho
        // with the same floor division as `outputSize`, so the rows a stride skips stay skipped.

        let bias = dnnlMemoryDescriptor([key.outChannels], dnnl_x)

        var forward = dnnl_convolution_desc_t()
        withUnsafePointer(to: bias) { biasPointer in
            dnnlCheck(dnnl_convolution_forward_desc_init(&forward, dnnl_forward_training, algorithm, &src, &weights,
                                                         key.bias ? biasPointer : nil, &dst, strides, padding, padding),
                      "describing \(key)")
        }
        var forwardDescriptor: dnnl_primitive_desc_t?
        let forwardAttributes = key.pass == .convolutionForward ? runtime.attributes(relu: key.relu) : nil
        defer { if key.relu { dnnl_primitive_attr_destroy(forwardAttributes) } }
        guard dnnl_primitive_desc_create(&forwardDescriptor, &forward, forwardAttributes, runtime.engine, nil) == dnnl_success,
              let forwardDescriptor else { return nil }
        defer { dnnl_primitive_desc_destroy(forwardDescriptor) }

        let plainWeights = dnnlMemoryDescriptor(weightDims, dnnl_oihw)
        /// An activation argument the caller passes in `layout`.
        func activation(_ argument: Int32, _ dims: [Int], _ layout: TensorLayout, _ query: dnnl_query_t) -> DNNLPlan.Argument {
            DNNLPlan.Argument(argument: argument, given: dnnlMemoryDescriptor(dims, layout), query: query, isOutput: false)
        }
        /// The activation output, handed back in the primitive's own layout when a `Tensor` can hold it.
        func activationOutput(_ argument: Int32, _ dims: [Int], _ query: dnnl_query_t, _ descriptor: dnnl_primitive_desc_t) -> DNNLPlan.Argument {
            let layout = dnnlTensorLayout(of: dnnl_primitive_desc_query_md(descriptor, query, 0).pointee, dims: dims)
            return DNNLPlan.Argument(argument: argument, given: dnnlMemoryDescriptor(dims, layout), query: query, isOutput: true, layout: layout)
        }
        switch key.pass {
        case .convolutionForward:
            return DNNLPlan(key: key, runtime: runtime, descriptor: forwardDescriptor, arguments: [
                activation(DNNL_ARG_SRC, srcDims, key.layouts[0], dnnl_query_src_md),
                DNNLPlan.Argument(argument: DNNL_ARG_WEIGHTS, given: plainWeights, query: dnnl_query_weights_md, isOutput: false,
                                  keepsReorder: true)]
                + (key.bias ? [DNNLPlan.Argument(argument: DNNL_ARG_BIAS, given: bias, query: nil, isOutput: false)] : [])
                + [activationOutput(DNNL_ARG_DST, dstDims, dnnl_query_dst_md, forwardDescriptor)])
        case .convolutionBackwardData:
            var backward = dnnl_convolution_desc_t()
            dnnlCheck(dnnl_convolution_backward_data_desc_init(&backward, algorithm, &src, &weights, &dst, strides, padding, padding),
                      "describing \(key)")
            var descriptor: dnnl_primitive_desc_t?
            guard dnnl_primitive_desc_create(&descriptor, &backward, runtime.attributes, runtime.engine, forwardDescriptor) == dnnl_success,
                  let descriptor else { return nil }
            defer { dnnl_primitive_desc_destroy(descriptor) }
            return DNNLPlan(key: key, runtime: runtime, descriptor: descriptor, arguments: [
                activation(DNNL_ARG_DIFF_DST, dstDims, key.layouts[0], dnnl_query_diff_dst_md),
                DNNLPlan.Argument(argument: DNNL_ARG_WEIGHTS, given: plainWeights, query: dnnl_query_weights_md, isOutput: false,
                                  keepsReorder: true),
                activationOutput(DNNL_ARG_DIFF_SRC, srcDims, dnnl_query_diff_src_md, descriptor)])
        case .convolutionBackwardWeights:
            var backward = dnnl_convolution_desc_t()
            dnnlCheck(dnnl_convolution_backward_weights_desc_init(&backward, algorithm, &src, &weights, nil, &dst, strides, padding, padding),
                      "describing \(key)")
            var descriptor: dnnl_primitive_desc_t?
            guard dnnl_primitive_desc_create(&descriptor, &backward, runtime.attributes, runtime.engine, forwardDescriptor) == dnnl_success,
                  let descriptor else { return nil }
            defer { dnnl_primitive_desc_destroy(descriptor) }
            return DNNLPlan(key: key, runtime: runtime, descriptor: descriptor, arguments: [
                activation(DNNL_ARG_SRC, srcDims, key.layouts[0], dnnl_query_src_md),
                activation(DNNL_ARG_DIFF_DST, dstDims, key.layouts[1], dnnl_query_diff_dst_md),
                DNNLPlan.Argument(argument: DNNL_ARG_DIFF_WEIGHTS, given: plainWeights, query: dnnl_query_diff_weights_md, isOutput: true)])
        case .batchNormForward, .batchNormBackward:
            preconditionFailure("\(key) is not a convolution")
        }
    }
}
