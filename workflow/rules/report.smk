# Stage 7: long-format result tables gathered from every per-subject ridge result, the
# reference paper's per-ROI pivots (its Tables II-V: rows task, columns method), the paired
# comparisons of model variants, the figures and a generated summary. Outputs flagged with
# report() make up `snakemake --report results/report.html` (captions in workflow/report/).


# Noise ceilings per subject x ROI (split-half over repeated images, cross-subject with the
# models' own folds and ridge); the tables rule joins them as ceiling and normalised_score.
rule ceilings:
    input:
        unpack(ceiling_stores),
    output:
        report(res("tables/ceilings.csv"), caption="../report/ceilings.rst", category="Tables", labels={"table": "ceilings"}),
    params:
        methods=ceiling_methods(),
        settings=ridge_settings(),
        statistics=config["statistics"],
    log:
        res("logs/ceilings.log"),
    benchmark:
        res("benchmarks/ceilings.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(20, 1000),
        runtime=runtime_from_inputs(1, 30),
        **ridge_gpu_resources(),
    conda:
        ridge_conda_env()
    script:
        "../scripts/ceilings.py"


rule tables:
    input:
        scores=ridge_outputs(),
        ceilings=ceiling_table(),
    output:
        decoding=report(
            res("tables/decoding.csv"), caption="../report/decoding.rst", category="Tables", labels={"table": "decoding"}
        ),
        encoding=report(
            res("tables/encoding.csv"), caption="../report/encoding.rst", category="Tables", labels={"table": "encoding"}
        ),
        pivots=report(
            res("tables/paper/tables2to5_decoding.csv"),
            caption="../report/tables2to5.rst",
            category="Tables",
            labels={"table": "paper Tables II-V"},
        ),
    params:
        pivot_metric="2v2",
        configured=configured_variants(),
        ceiling_methods=ceiling_methods() if ceilings_enabled() else {},
    log:
        res("logs/tables.log"),
    benchmark:
        res("benchmarks/tables.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(10, 1000),
        runtime=runtime_from_inputs(0.1, 5),
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/tables.py"


# The vision arm's brain tables: the reference paper's Tables VII (LOC) and VIII (OPA), plus
# PPA, RSC and EarlyVis, for decoding and encoding; image tasks under their honest names.
rule vision_tables:
    input:
        decoding=res("tables/decoding.csv"),
        encoding=res("tables/encoding.csv"),
    output:
        report(
            res("tables/paper/tables7to8_bold5000.csv"),
            caption="../report/tables7to8.rst",
            category="Tables",
            labels={"table": "paper Tables VII-VIII"},
        ),
    params:
        task_settings=lambda wildcards: {task: task_config(task) for task in image_tasks()},
        pivot_metric="2v2",
        configured=configured_variants(),
    log:
        res("logs/vision_tables.log"),
    benchmark:
        res("benchmarks/vision_tables.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(10, 1000),
        runtime=runtime_from_inputs(0.1, 5),
    conda:
        "../../envs/ridge.yaml"
    script:
        "../scripts/vision_tables.py"


rule comparisons:
    input:
        pair_stores(),
    output:
        report(
            res("tables/comparisons.csv"),
            caption="../report/comparisons.rst",
            category="Tables",
            labels={"table": "comparisons"},
        ),
    params:
        statistics=config["statistics"],
        seed=config["seed"],
        configured=configured_variants(),
    log:
        res("logs/comparisons.log"),
    benchmark:
        res("benchmarks/comparisons.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(4, 1000),
        runtime=runtime_from_inputs(1, 30),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/comparisons.py"


rule figures:
    input:
        unpack(figure_inputs),
    output:
        figure_outputs(),
    params:
        specs=figure_specs(),
        fdr_alpha=config["statistics"]["fdr_alpha"],
        configured=configured_variants(),
        ceiling_methods=ceiling_methods() if ceilings_enabled() else {},
    log:
        res("logs/figures.log"),
    benchmark:
        res("benchmarks/figures.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(10, 2000),
        runtime=runtime_from_inputs(0.2, 10),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/figures.py"


rule summary:
    input:
        unpack(summary_inputs),
    output:
        markdown=res("summary.md"),
        html=report(res("report/summary.html"), caption="../report/summary.rst", category="Summary"),
    params:
        config=config,
        fdr_alpha=config["statistics"]["fdr_alpha"],
        configured=configured_variants(),
        ceiling_methods=ceiling_methods() if ceilings_enabled() else {},
    log:
        res("logs/summary.log"),
    benchmark:
        res("benchmarks/summary.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(10, 1000),
        runtime=runtime_from_inputs(0.1, 5),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/summary.py"


# The learning-rate search of every checkpoint: each candidate's validation score (which one
# the later stages use) and its validation curve, read from the checkpoints' tuning.json.
rule tuning_table:
    input:
        tuning_table_inputs,
    output:
        table=report(
            res("tables/tuning.csv"), caption="../report/tuning.rst", category="Tables", labels={"table": "tuning"}
        ),
        curves=res("tables/tuning_curves.csv"),
    params:
        checkpoints=[list(key) for key in tuned_checkpoints()],
    log:
        res("logs/tuning_table.log"),
    benchmark:
        res("benchmarks/tuning_table.tsv")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/tuning_table.py"


rule tuning_figure:
    input:
        curves=res("tables/tuning_curves.csv"),
    output:
        png=report(
            res("figures/tuning_curves.png"),
            caption="../report/figure_tuning_curves.rst",
            category="Figures",
            subcategory="tuning",
            labels={"figure": "tuning_curves"},
        ),
        svg=res("figures/tuning_curves.svg"),
    params:
        name="tuning_curves",
    log:
        res("logs/tuning_figure.log"),
    benchmark:
        res("benchmarks/tuning_figure.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(10, 1000),
        runtime=runtime_from_inputs(0.2, 5),
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/tuning_figure.py"
