# Stage 6: cross-validated ridge decoding (voxels -> representation) and encoding
# (representation -> voxels) for every ROI of one subject in one job. No torch here, unless
# ridge.backend is torch (then a GPU is requested when ridge.device is cuda).
# Each score gets a bootstrap CI over stimuli and a permutation p-value (config statistics);
# the per-pair 2v2 data are kept in {subject}.pairs.h5 for the paired comparisons.


rule ridge:
    input:
        responses=ridge_subject_store,
        features=res("features/{model}/{task}/{method}.h5"),
    output:
        scores=res("ridge/{model}/{task}/{method}/{subject}.csv"),
        pairs=res("ridge/{model}/{task}/{method}/{subject}.pairs.h5"),
    params:
        settings=ridge_settings(),
        statistics=ridge_statistics(),
        identity=lambda wildcards: {
            "model": wildcards.model,
            "task": wildcards.task,
            "method": wildcards.method,
        },
        features_require=feature_store_requirements,
    log:
        res("logs/ridge/{model}/{task}/{method}/{subject}.log"),
    benchmark:
        res("benchmarks/ridge/{model}/{task}/{method}/{subject}.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(20, 1000),
        runtime=runtime_from_inputs(0.2, 10),
        **ridge_gpu_resources(),
    conda:
        ridge_conda_env()
    script:
        "../scripts/ridge.py"
