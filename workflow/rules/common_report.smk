# Input functions of the gathering stage: statistics, figures, the summary and the noise
# ceilings (rules in report.smk; with common.smk).
import types


def pair_stores():
    """The per-pair 2v2 data written next to every per-subject ridge result."""
    return [path[: -len(".csv")] + ".pairs.h5" for path in ridge_outputs()]


def figure_specs():
    """Every figure the report shows: kind, and the dataset x model (x direction) it covers.

    Built from the config, so a model on another dataset (e.g. a vision arm) adds its own
    figures; brainalign.plots.make_figure draws each.
    """
    specs = []
    for model, cfg in config["models"].items():
        dataset = cfg["dataset"]
        tuned = bool(model_tasks(model)) and bool(tuned_methods())
        several_layers = len(feature_settings(types.SimpleNamespace(model=model))["layers"]) > 1
        for direction in config["ridge"]["directions"]:
            kinds = ["by_roi"] + (["by_task"] if tuned else []) + (["by_layer"] if several_layers else [])
            for kind in kinds:
                specs.append(
                    {"name": f"{dataset}_{model}_{direction}_{kind}", "kind": kind, "dataset": dataset,
                     "model": model, "direction": direction}
                )
        if tuned:
            specs.append({"name": f"{dataset}_{model}_difference", "kind": "difference", "dataset": dataset, "model": model})
    if config["tasks"]:
        specs.append({"name": "task_scores", "kind": "task_scores"})
    return specs


def figure_outputs():
    """PNG (shown in the report, captioned per kind) and SVG of every figure."""
    outputs = []
    for spec in figure_specs():
        caption = f"../report/figure_{spec['kind']}.rst"
        labels = {"figure": spec["name"]}
        png = res(f"figures/{spec['name']}.png")
        outputs.append(report(png, caption=caption, category="Figures", subcategory=spec.get("dataset", "task quality"), labels=labels))
        outputs.append(res(f"figures/{spec['name']}.svg"))
    return outputs


def figure_inputs(wildcards):
    inputs = {
        "decoding": res("tables/decoding.csv"),
        "encoding": res("tables/encoding.csv"),
        "comparisons": res("tables/comparisons.csv"),
    }
    if config["tasks"]:
        inputs["task_scores"] = res("tables/task_scores.csv")
    if ceilings_enabled():
        inputs["ceilings"] = res("tables/ceilings.csv")
    return inputs


def summary_inputs(wildcards):
    """What the summary reports: the figures' tables, and the learning-rate search when
    anything is tuned."""
    inputs = figure_inputs(wildcards)
    if tuned_checkpoints():
        inputs["tuning"] = res("tables/tuning.csv")
    return inputs


def report_targets():
    """Comparisons, figures, the tuning tables and the generated summary (part of the default target)."""
    figures = [res(f"figures/{spec['name']}.{suffix}") for spec in figure_specs() for suffix in ("png", "svg")]
    if tuned_checkpoints():
        figures += [res("tables/tuning.csv"), res("figures/tuning_curves.png"), res("figures/tuning_curves.svg")]
    return [res("tables/comparisons.csv"), *figures, res("summary.md"), res("report/summary.html")]


# --- noise ceilings (rule ceilings in report.smk; brainalign.ceilings, docs/ceilings.md)


def ceilings_enabled():
    return bool(config["ceilings"]["enabled"])


def ceiling_methods():
    """Config ceilings.methods for the datasets some model is scored on (dataset -> methods).

    Methods of a dataset the config leaves out are ignored, so that dropping a dataset needs no
    second edit (the schema already refuses names that are no dataset at all)."""
    methods = config["ceilings"]["methods"]
    scored = {model_config(model)["dataset"] for model in config["models"]}
    return {dataset: list(listed) for dataset, listed in methods.items() if dataset in scored}


def ceiling_stores(wildcards):
    """The ceilings rule's inputs: every subject store of each dataset with ceilings, by dataset."""
    return {dataset: subject_stores(dataset) for dataset in ceiling_methods()}


def ceiling_table():
    """tables/ceilings.csv when ceilings are on (an input of tables, figures and summary), else nothing."""
    return [res("tables/ceilings.csv")] if ceilings_enabled() else []
