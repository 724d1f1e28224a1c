# Stage 6: cross-validated ridge decoding (voxels -> representation) and encoding
# (representation -> voxels) for every ROI of one subject in one job. No torch here.


rule ridge:
    input:
        responses=ridge_subject_store,
        features="results/features/{model}/{task}/{method}.h5",
    output:
        "results/ridge/{model}/{task}/{method}/{subject}.csv",
    params:
        settings=ridge_settings(),
        identity=lambda wildcards: {
            "model": wildcards.model,
            "task": wildcards.task,
            "method": wildcards.method,
        },
    log:
        "results/logs/ridge/{model}/{task}/{method}/{subject}.log",
    benchmark:
        "results/benchmarks/ridge/{model}/{task}/{method}/{subject}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(20, 1000),
        runtime=runtime_from_inputs(0.2, 10),
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/ridge.py"
