"""Pre-flight checks of the brain data a configuration reads (``make check-data``), with the
real readers: Pereira (either ``.mat`` distribution, or the 627 layout) and BOLD5000."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from brainalign.errors import BrainalignError
from brainalign.preflight import OK, WORKFLOW, Check, problem, resolve


def check_pereira(cfg: Mapping[str, Any]) -> list[Check]:
    """Rows for ``datasets.pereira`` (either loader)."""
    if cfg.get("simulate"):
        return [Check(WORKFLOW, "pereira (simulated)", cfg["raw_dir"], "written by the workflow (rule simulate_pereira)")]
    if cfg["loader"] == "mat":
        return _check_pereira_mat(cfg)
    return _check_pereira_627(cfg)


def _check_pereira_mat(cfg: Mapping[str, Any]) -> list[Check]:
    from brainalign.brains.pereira import DEFAULT_NETWORKS, check_networks, check_same_voxels, network_columns
    from brainalign.brains.pereira_mat import experiment_candidates, find_experiment_file, read_experiment

    raw_dir = resolve(cfg["raw_dir"])
    networks = check_networks(cfg.get("networks") or DEFAULT_NETWORKS)
    rows: list[Check] = []
    sentences_of: dict[str, tuple[str, tuple[str, ...]]] = {}  # experiment -> (first subject, sentences)
    for subject in cfg["subjects"]:
        reference = None
        for name in cfg["experiments"]:
            item = f"pereira {subject} {name}"
            folder = raw_dir / subject
            try:
                path = find_experiment_file(folder, name)
            except BrainalignError as exc:
                candidates = experiment_candidates(folder, name)
                both = " or ".join(str(p) for p in candidates)
                if not any(p.exists() for p in candidates):
                    exc = "not found (under either name)"
                rows.append(problem(item, both, exc, f"put the subject's {name} file in {folder}/ (one of the two names)"))
                continue
            try:
                experiment = read_experiment(path, matrix=False)
                columns = network_columns(experiment, networks)
                if reference is None:
                    reference = (path, experiment.n_voxels, columns)
                else:
                    check_same_voxels(reference, path, experiment.n_voxels, columns)
            except BrainalignError as exc:
                rows.append(problem(item, path, exc, "download the subject's file again (an official Pereira .mat)"))
                continue
            first = sentences_of.setdefault(name, (subject, experiment.sentences))
            if first[1] != experiment.sentences:
                rows.append(problem(
                    item, path, f"its sentences differ from subject {first[0]}'s {name} sentences",
                    "every subject must have seen the same sentences: check that the file is this experiment's",
                ))
                continue
            voxels = ", ".join(f"{roi} {cols.size}" for roi, cols in columns.items())
            rois = sum(len(experiment.atlases[a]) for atlases in networks.values() for a in atlases)
            rows.append(Check(
                OK, item, str(path),
                f"{len(experiment.sentences)} sentences in {len(set(experiment.passages))} passages; matrix "
                f"{experiment.variable} ({experiment.n_voxels} voxels); {len(experiment.atlases)} atlases, "
                f"{rois} ROIs in the networks; voxels per network (before NaN/constant voxels are dropped): {voxels}",
            ))
    return rows


def _check_pereira_627(cfg: Mapping[str, Any]) -> list[Check]:
    from brainalign.brains.pereira import load_pereira_627, sessions_627
    from brainalign.brains.pereira_627 import read_627_stimuli

    raw_dir = resolve(cfg["raw_dir"])
    stimuli = raw_dir / "stimuli.txt"
    passages = resolve(cfg["passages_file"]) if cfg.get("passages_file") else None
    rows: list[Check] = []
    try:
        sentences, groups = read_627_stimuli(
            stimuli, passages_path=passages, passage_block_size=cfg.get("passage_block_size")
        )
    except BrainalignError as exc:
        fix = "see docs/data.md: the 627 layout needs stimuli.txt and a passages file (make pereira-passages)"
        rows.append(problem("pereira stimuli and passages", f"{stimuli}, {passages}", exc, fix))
        sentences = []
    else:
        sessions = sessions_627(len(sentences))
        split = "384 (experiment 2) + 243 (experiment 3)" if sessions else "one session (not 627 lines)"
        source = f"passages from {passages}" if passages else f"blocks of {cfg['passage_block_size']} (set explicitly)"
        rows.append(Check(
            OK, "pereira stimuli and passages", f"{stimuli}, {passages or '-'}",
            f"{len(sentences)} sentences = {split}; {len(set(groups))} passages, {source}",
        ))
    for subject in cfg["subjects"]:
        path = raw_dir / f"{subject}.npy"
        item = f"pereira {subject}"
        if not path.is_file():
            rows.append(problem(item, path, "not found", f"put {subject}.npy in {raw_dir}/"))
        elif not cfg.get("trust_pickled_subject_files"):
            rows.append(problem(
                item, path, "a pickled .npy file: not opened (unpickling can run code)",
                "set datasets.pereira.trust_pickled_subject_files: true if the file comes from a trusted source",
            ))
        elif sentences:
            try:
                loaded = load_pereira_627(
                    stimuli, path, subject=subject, trust_pickled_subject_files=True, passages_path=passages,
                    passage_block_size=cfg.get("passage_block_size"),
                )
            except BrainalignError as exc:
                rows.append(problem(item, path, exc, "use the subject file that matches stimuli.txt (one row a line)"))
            else:
                voxels = ", ".join(f"{roi} {m.shape[1]}" for roi, m in loaded.rois.items())
                rows.append(Check(OK, item, str(path), f"voxels per ROI (usable): {voxels}"))
    return rows


# --------------------------------------------------------------------------- BOLD5000


def check_bold5000(cfg: Mapping[str, Any]) -> list[Check]:
    """Rows for ``datasets.bold5000``: stimulus lists vs ROI trial counts, presented images."""
    from brainalign.brains.bold5000 import load_bold5000, mat_files, stim_list_path

    if cfg.get("simulate"):
        return [Check(WORKFLOW, "bold5000 (simulated)", cfg["raw_dir"], "written by the workflow (rule simulate_bold5000)")]
    raw_dir, image_dir = resolve(cfg["raw_dir"]), resolve(cfg["image_dir"])
    rows: list[Check] = []
    if not image_dir.is_dir():
        rows.append(problem("bold5000 images", image_dir, "not found", "unpack BOLD5000_Stimuli.zip and set image_dir"))
    for subject in cfg["subjects"]:
        item = f"bold5000 {subject}"
        paths = [*mat_files(raw_dir, subject, cfg["trs"]), stim_list_path(raw_dir, subject)]
        missing = [p for p in paths if not p.is_file()]
        for path in missing:
            rows.append(problem(item, path, "not found", "unpack BOLD5000_ROIs.zip into raw_dir (see config/README.md)"))
        if missing or not image_dir.is_dir():
            continue
        try:
            loaded = load_bold5000(
                paths[:-1], paths[-1], image_dir, subject=subject, rois=cfg["rois"],
                hemispheres=cfg["hemispheres"], cv_groups=cfg["cv_groups"],
            )
        except BrainalignError as exc:
            rows.append(problem(item, raw_dir / subject, exc, "use the same subject's stimulus list and ROI files"))
            continue
        voxels = ", ".join(f"{roi} {m.shape[1]}" for roi, m in loaded.rois.items())
        rows.append(Check(
            OK, item, str(raw_dir / subject),
            f"{loaded.provenance['n_trials']} trials = stimulus list, {len(loaded.stimulus_ids)} images all present; "
            f"voxels per ROI (usable): {voxels}",
        ))
    return rows


# --------------------------------------------------------------------------- tasks
