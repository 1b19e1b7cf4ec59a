// oneDNN 2.6 batch norm (forward training, scale + shift, fused ReLU, nChw16c), batch 128, timed alone:
// the measurement behind DNNLBackend.runsBlockedKernel. Median-free: the mean of 50 runs after 3 warm-ups.
//
//     gcc -O2 benchmarks/onednn/batchnorm.c -o /tmp/bn -ldnnl -fopenmp
//     for t in 1 2; do OMP_NUM_THREADS=$t /tmp/bn 16 28; done     # channels, height = width
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc, char**argv){
 int C=atoi(argv[1]), H=atoi(argv[2]);
 dnnl_engine_t e; dnnl_engine_create(&e, dnnl_cpu, 0); dnnl_stream_t s; dnnl_stream_create(&s,e,dnnl_stream_default_flags);
 dnnl_memory_desc_t d, p; dnnl_dims_t dims={128,C,H,H}; dnnl_memory_desc_init_by_tag(&d,4,dims,dnnl_f32,dnnl_nChw16c);
 dnnl_dims_t pd1={C}; dnnl_memory_desc_init_by_tag(&p,1,pd1,dnnl_f32,dnnl_a);
 unsigned flags = dnnl_use_scale|dnnl_use_shift|dnnl_fuse_norm_relu;
 dnnl_batch_normalization_desc_t f; dnnl_batch_normalization_forward_desc_init(&f, dnnl_forward_training,&d,1e-5,flags);
 dnnl_primitive_desc_t fpd; dnnl_primitive_desc_create(&fpd,&f,NULL,e,NULL);
 dnnl_primitive_t prim; dnnl_primitive_create(&prim,fpd);
 const dnnl_memory_desc_t* wmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md,0);
 dnnl_memory_t src,dst,mean,var,sc,sh,ws;
 dnnl_memory_create(&src,&d,e,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&dst,&d,e,DNNL_MEMORY_ALLOCATE);
 dnnl_memory_create(&mean,&p,e,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&var,&p,e,DNNL_MEMORY_ALLOCATE);
 dnnl_memory_create(&sc,&p,e,DNNL_MEMORY_ALLOCATE); dnnl_memory_create(&sh,&p,e,DNNL_MEMORY_ALLOCATE);
 dnnl_memory_create(&ws,wmd,e,DNNL_MEMORY_ALLOCATE);
 dnnl_exec_arg_t a[]={{DNNL_ARG_SRC,src},{DNNL_ARG_DST,dst},{DNNL_ARG_MEAN,mean},{DNNL_ARG_VARIANCE,var},{DNNL_ARG_SCALE,sc},{DNNL_ARG_SHIFT,sh},{DNNL_ARG_WORKSPACE,ws}};
 for(int i=0;i<3;i++){dnnl_primitive_execute(prim,s,7,a);} dnnl_stream_wait(s);
 double t=now(); for(int i=0;i<50;i++){dnnl_primitive_execute(prim,s,7,a);} dnnl_stream_wait(s);
 printf("C %d H %d threads %d: %.3f ms\n", C,H,omp_get_max_threads(), (now()-t)/50*1e3);
}
