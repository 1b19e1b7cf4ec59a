import CDNNL

/// Convolution on oneDNN primitives: forward, backward-data and backward-weights side by side.
///
/// Tensors stay plain NCHW (weights OIHW) at the call; each primitive is created with format `any`
/// so it picks its fastest layout (on AVX-512, `nChw16c` activations and `OIhw16i16o`-style weights)
/// and `DNNLRuntime.run` reorders at the boundary. Keeping activations blocked from layer to layer
/// (issue 19's end state) would save those reorders; this stage does not yet.
///
/// Winograd F(4×4, 3×3) (`dnnl_convolution_winograd`, Lavin & Gray 2016) is asked for on 3×3
/// stride-1 layers when `options.winograd` is on; where oneDNN has no Winograd kernel for a shape (or
/// for this CPU) it falls back to direct. It trades accuracy for speed: about 1e-6 relative error
/// against double precision, versus 2–5e-7 for direct (issue 19's measurements).
extension DNNLBackend {
    public func conv2d(_ x: Tensor, weight: Tensor, geometry g: Conv2DGeometry) -> Tensor {
        let (n, c, h, w) = x.nchw
        precondition(weight.rank == 4 && weight.shape[1] == c && weight.shape[2] == g.kernelHeight && weight.shape[3] == g.kernelWidth,
                     "conv2d weight \(weight.shape) does not match input \(x.shape) with \(g)")
        let o = weight.shape[0], (oh, ow) = g.outputSize(height: h, width: w)
        guard n > 0 && c > 0 && o > 0 else { return reference.conv2d(x, weight: weight, geometry: g) }
        let key = planKey(.convolutionForward, n: n, c: c, h: h, w: w, o: o, geometry: g)
        return Tensor(shape: [n, o, oh, ow]) { out in
            x.withUnsafeBufferPointer { xb in weight.withUnsafeBufferPointer { wb in
                runtime.run(key, inputs: [UnsafeRawPointer(xb.baseAddress!), UnsafeRawPointer(wb.baseAddress!)],
                            output: UnsafeMutableRawPointer(out.baseAddress!), make: Self.makeConvolutionPlan(key))
            } }
        }
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
        dy.withUnsafeBufferPointer { dyb in
            let dyP = UnsafeRawPointer(dyb.baseAddress!)
            if needInput {
                // dX = dY ⋆ᵀ W (the transposed convolution)
                let key = planKey(.convolutionBackwardData, n: n, c: c, h: h, w: w, o: o, geometry: g)
                dx = Tensor(shape: x.shape) { out in
                    weight.withUnsafeBufferPointer { wb in
                        runtime.run(key, inputs: [dyP, UnsafeRawPointer(wb.baseAddress!)],
                                    output: UnsafeMutableRawPointer(out.baseAddress!), make: Self.makeConvolutionPlan(key))
                    }
                }
            }
            if needWeight {
                // dW = Σₙ dYₙ ⋆ Xₙ (correlation of the input with the output gradient)
                let key = planKey(.convolutionBackwardWeights, n: n, c: c, h: h, w: w, o: o, geometry: g)
                dw = Tensor(shape: weight.shape) { out in
                    x.withUnsafeBufferPointer { xb in
                        runtime.run(key, inputs: [UnsafeRawPointer(xb.baseAddress!), dyP],
                                    output: UnsafeMutableRawPointer(out.baseAddress!), make: Self.makeConvolutionPlan(key))
                    }
                }
            }
        }
        return (dx, dw)
    }

    /// Winograd only where it applies: 3×3, stride 1 (oneDNN's F(4,3) kernels need both).
    func planKey(_ pass: DNNLPlanKey.Pass, n: Int, c: Int, h: Int, w: Int, o: Int, geometry g: Conv2DGeometry) -> DNNLPlanKey {
        let winograd = options.winograd && g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
        return DNNLPlanKey(pass: pass, batch: n, channels: c, height: h, width: w, outChannels: o, geometry: g, winograd: winograd)
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
        let g = key.geometry
        let (oh, ow) = g.outputSize(height: key.height, width: key.width)
        let srcDims = [key.batch, key.channels, key.height, key.width]
        let weightDims = [key.outChannels, key.channels, g.kernelHeight, g.kernelWidth]
        let dstDims = [key.batch, key.outChannels, oh, ow]
        var src = dnnlMemoryDescriptor(srcDims, dnnl_format_tag_any)
        var weights = dnnlMemoryDescriptor(weightDims, dnnl_format_tag_any)
        var dst = dnnlMemoryDescriptor(dstDims, dnnl_format_tag_any)
        let strides: [Int64] = [Int64(g.strideHeight), Int64(g.strideWidth)]
        let padding: [Int64] = [Int64(g.padHeight), Int64(g.padWidth)]
        // Right/bottom padding as large as the left/top one: oneDNN checks (H + pl + pr − K)/S + 1 = Ho
        // with the same floor division as `outputSize`, so the rows a stride skips stay skipped.

        var forward = dnnl_convolution_desc_t()
        dnnlCheck(dnnl_convolution_forward_desc_init(&forward, dnnl_forward_training, algorithm, &src, &weights, nil, &dst,
                                                     strides, padding, padding), "describing \(key)")
        var forwardDescriptor: dnnl_primitive_desc_t?
        let forwardAttributes = key.pass == .convolutionForward ? runtime.attributes : nil
        guard dnnl_primitive_desc_create(&forwardDescriptor, &forward, forwardAttributes, runtime.engine, nil) == dnnl_success,
              let forwardDescriptor else { return nil }
        defer { dnnl_primitive_desc_destroy(forwardDescriptor) }

        let plainSrc = dnnlMemoryDescriptor(srcDims, dnnl_nchw)
        let plainWeights = dnnlMemoryDescriptor(weightDims, dnnl_oihw)
        let plainDst = dnnlMemoryDescriptor(dstDims, dnnl_nchw)
        switch key.pass {
        case .convolutionForward:
            return DNNLPlan(runtime: runtime, descriptor: forwardDescriptor,
                            inputs: [(DNNL_ARG_SRC, plainSrc, dnnl_query_src_md), (DNNL_ARG_WEIGHTS, plainWeights, dnnl_query_weights_md)],
                            output: (DNNL_ARG_DST, plainDst, dnnl_query_dst_md))
        case .convolutionBackwardData:
            var backward = dnnl_convolution_desc_t()
            dnnlCheck(dnnl_convolution_backward_data_desc_init(&backward, algorithm, &src, &weights, &dst, strides, padding, padding),
                      "describing \(key)")
            var descriptor: dnnl_primitive_desc_t?
            guard dnnl_primitive_desc_create(&descriptor, &backward, runtime.attributes, runtime.engine, forwardDescriptor) == dnnl_success,
                  let descriptor else { return nil }
            defer { dnnl_primitive_desc_destroy(descriptor) }
            return DNNLPlan(runtime: runtime, descriptor: descriptor,
                            inputs: [(DNNL_ARG_DIFF_DST, plainDst, dnnl_query_diff_dst_md), (DNNL_ARG_WEIGHTS, plainWeights, dnnl_query_weights_md)],
                            output: (DNNL_ARG_DIFF_SRC, plainSrc, dnnl_query_diff_src_md))
        case .convolutionBackwardWeights:
            var backward = dnnl_convolution_desc_t()
            dnnlCheck(dnnl_convolution_backward_weights_desc_init(&backward, algorithm, &src, &weights, nil, &dst, strides, padding, padding),
                      "describing \(key)")
            var descriptor: dnnl_primitive_desc_t?
            guard dnnl_primitive_desc_create(&descriptor, &backward, runtime.attributes, runtime.engine, forwardDescriptor) == dnnl_success,
                  let descriptor else { return nil }
            defer { dnnl_primitive_desc_destroy(descriptor) }
            return DNNLPlan(runtime: runtime, descriptor: descriptor,
                            inputs: [(DNNL_ARG_SRC, plainSrc, dnnl_query_src_md), (DNNL_ARG_DIFF_DST, plainDst, dnnl_query_diff_dst_md)],
                            output: (DNNL_ARG_DIFF_WEIGHTS, plainWeights, dnnl_query_diff_weights_md))
        }
    }
}
