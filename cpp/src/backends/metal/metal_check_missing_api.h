// Apple API this device uses that the metal-check tool's hand-written MPS/MPSGraph declarations
// (shared/tools/metal-check/sdk-handwritten) and metal-cpp 14.2 lack. Only metal-check defines
// METAL_CHECK_SDK, so on a Mac this header is empty and Apple's own headers declare all of it.
// Each declaration names where its signature was checked; the tool's maintainers may move them
// into sdk-handwritten/, after which this file goes away.
#pragma once

#if defined(METAL_CHECK_SDK)

#import <Metal/Metal.h>
#import <MetalPerformanceShaders/MetalPerformanceShaders.h>
#import <MetalPerformanceShadersGraph/MetalPerformanceShadersGraph.h>

#if METAL_CHECK_SDK < 150000
// MTLComputePipeline.h: API_AVAILABLE(macos(13.0)), the same bit as MTLPipelineOptionArgumentInfo;
// metal-cpp 14.2 does not wrap it.
static const MTLPipelineOption MTLPipelineOptionBindingInfo = MTLPipelineOptionArgumentInfo;
#endif

// MPSNDArray.h, as pytorch/pytorch aten/src/ATen/native/mps/OperationUtils.mm (Placeholder,
// getMPSNDArray) uses it; initWithBuffer:offset:descriptor: and preferPackedRows are macOS 15.
@interface MPSNDArrayDescriptor : NSObject
+ (instancetype)descriptorWithDataType:(MPSDataType)dataType shape:(NSArray<NSNumber*>*)shape;
@property(readwrite, nonatomic) MPSDataType dataType;
#if METAL_CHECK_SDK >= 150000
@property(readwrite, nonatomic) BOOL preferPackedRows;
#endif
@end

@interface MPSNDArray : NSObject
- (instancetype)initWithDevice:(id<MTLDevice>)device descriptor:(MPSNDArrayDescriptor*)descriptor;
#if METAL_CHECK_SDK >= 150000
- (instancetype)initWithBuffer:(id<MTLBuffer>)buffer
                        offset:(NSUInteger)offset
                    descriptor:(MPSNDArrayDescriptor*)descriptor;
#endif
@property(readonly, nonatomic) MPSDataType dataType;
@end

// pytorch OperationUtils.mm (a Placeholder over an MPSNDArray with a storage offset).
@interface MPSGraphTensorData (MetalCheckMissing)
- (instancetype)initWithMPSNDArray:(MPSNDArray*)ndarray;
@end

@interface MPSGraph (MetalCheckMissing)
// pytorch operations/Attention.mm (scale, causal mask, minus infinity).
- (MPSGraphTensor*)constantWithScalar:(double)scalar
                                shape:(MPSShape*)shape
                             dataType:(MPSDataType)dataType;
// pytorch operations/Activation.mm (log_softmax, log_sigmoid_backward, leaky_relu).
- (MPSGraphTensor*)subtractionWithPrimaryTensor:(MPSGraphTensor*)primaryTensor
                                secondaryTensor:(MPSGraphTensor*)secondaryTensor
                                           name:(NSString*)name;
- (MPSGraphTensor*)divisionWithPrimaryTensor:(MPSGraphTensor*)primaryTensor
                             secondaryTensor:(MPSGraphTensor*)secondaryTensor
                                        name:(NSString*)name;
- (MPSGraphTensor*)maximumWithPrimaryTensor:(MPSGraphTensor*)primaryTensor
                            secondaryTensor:(MPSGraphTensor*)secondaryTensor
                                       name:(NSString*)name;
- (MPSGraphTensor*)exponentWithTensor:(MPSGraphTensor*)tensor name:(NSString*)name;
// pytorch operations/LossOps.mm (nll_loss).
- (MPSGraphTensor*)equalWithPrimaryTensor:(MPSGraphTensor*)primaryTensor
                          secondaryTensor:(MPSGraphTensor*)secondaryTensor
                                     name:(NSString*)name;
// pytorch Attention.mm (causal mask), Activation.mm.
- (MPSGraphTensor*)selectWithPredicateTensor:(MPSGraphTensor*)predicateTensor
                         truePredicateTensor:(MPSGraphTensor*)truePredicateTensor
                        falsePredicateTensor:(MPSGraphTensor*)falseSelectTensor
                                        name:(NSString*)name;
// pytorch operations/ReduceOps.mm (sum, amax).
- (MPSGraphTensor*)reductionSumWithTensor:(MPSGraphTensor*)tensor
                                     axes:(NSArray<NSNumber*>*)axes
                                     name:(NSString*)name;
- (MPSGraphTensor*)reductionMaximumWithTensor:(MPSGraphTensor*)tensor
                                         axes:(NSArray<NSNumber*>*)axes
                                         name:(NSString*)name;
// pytorch Attention.mm: bandPartWithTensor:numLower:-1 numUpper:0 for the causal mask.
- (MPSGraphTensor*)bandPartWithTensor:(MPSGraphTensor*)inputTensor
                             numLower:(NSInteger)numLower
                             numUpper:(NSInteger)numUpper
                                 name:(NSString*)name;
// pytorch/executorch backends/apple/mps/runtime/operations/ShapeOps.mm (permute); macOS 13+.
- (MPSGraphTensor*)transposeTensor:(MPSGraphTensor*)tensor
                       permutation:(NSArray<NSNumber*>*)permutation
                              name:(NSString*)name;
// pytorch Attention.mm, executorch ShapeOps.mm (expand).
- (MPSGraphTensor*)broadcastTensor:(MPSGraphTensor*)tensor
                           toShape:(MPSShape*)shape
                              name:(NSString*)name;
@end

#endif  // METAL_CHECK_SDK
