# Stage 7: long-format result tables gathered from every per-subject ridge result.


rule tables:
    input:
        ridge_outputs(),
    output:
        decoding="results/tables/decoding.csv",
        encoding="results/tables/encoding.csv",
    log:
        "results/logs/tables.log",
    benchmark:
        "results/benchmarks/tables.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/tables.py"
