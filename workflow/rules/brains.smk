# Stage 1: raw subject files -> one HDF5 response store per subject (ROI -> stimuli x voxels).
# When the config asks for simulated subjects, they are first written in the raw format of the
# real dataset, so that the real loader reads them.


if is_simulated("pereira") and dataset_config("pereira")["loader"] == "mat":

    rule simulate_pereira:
        input:
            stimuli=resource(dataset_config("pereira")["simulate"]["stimuli"]),
        output:
            pereira_subject_files("{subject}"),
        params:
            loader="mat",
            experiment=pereira_experiments()[0],
            simulation=dataset_config("pereira")["simulate"],
            seed=config["seed"],
        log:
            res("logs/simulate_pereira/{subject}.log"),
        benchmark:
            res("benchmarks/simulate_pereira/{subject}.tsv")
        threads: 1
        resources:
            mem_mb=simulation_mem_mb(),
            runtime=10,
        conda:
            "../../envs/brains.yaml"
        script:
            "../scripts/simulate_pereira.py"


if is_simulated("pereira") and dataset_config("pereira")["loader"] == "npy627":

    # The 627-sentence layout shares stimuli.txt between subjects: one job writes them all.
    rule simulate_pereira_627:
        input:
            stimuli=resource(dataset_config("pereira")["simulate"]["stimuli"]),
        output:
            stimuli=f"{pereira_raw_dir()}/stimuli.txt",
            passages=f"{pereira_raw_dir()}/passages.txt",
            subjects=expand(f"{pereira_raw_dir()}/{{subject}}.npy", subject=subjects("pereira")),
        params:
            loader="npy627",
            subjects=subjects("pereira"),
            simulation=dataset_config("pereira")["simulate"],
            seed=config["seed"],
        log:
            res("logs/simulate_pereira_627.log"),
        benchmark:
            res("benchmarks/simulate_pereira_627.tsv")
        threads: 1
        resources:
            mem_mb=simulation_mem_mb(),
            runtime=10,
        conda:
            "../../envs/brains.yaml"
        script:
            "../scripts/simulate_pereira.py"


rule brains_pereira:
    input:
        raw_subject_files,
    output:
        res("brains/pereira/{subject}.h5"),
    params:
        loader=dataset_config("pereira")["loader"],
        networks=dataset_config("pereira").get("networks"),
        passages_file=pereira_passages_file(),
        passage_block_size=dataset_config("pereira")["passage_block_size"],
        trust_pickled_subject_files=dataset_config("pereira")["trust_pickled_subject_files"],
        simulated=is_simulated("pereira"),
    log:
        res("logs/brains_pereira/{subject}.log"),
    benchmark:
        res("benchmarks/brains_pereira/{subject}.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(4, 1000),
        runtime=runtime_from_inputs(0.1, 10),
    conda:
        "../../envs/brains.yaml"
    script:
        "../scripts/brains_pereira.py"


# Built from one reference subject (see stimulus_reference_store), not from every subject:
# adding a subject must not re-extract every model's features.
rule stimulus_table:
    input:
        stimulus_reference_store,
    output:
        res("brains/{dataset}/stimuli.tsv"),
    params:
        dataset="{dataset}",
    log:
        res("logs/stimulus_table/{dataset}.log"),
    benchmark:
        res("benchmarks/stimulus_table/{dataset}.tsv")
    threads: 1
    resources:
        mem_mb=mem_mb_from_inputs(2, 1000),
        runtime=5,
    conda:
        "../../envs/brains.yaml"
    script:
        "../scripts/stimulus_table.py"


if "bold5000" in config["datasets"]:

    if is_simulated("bold5000"):

        # One job writes the shared stimulus images and every subject's ROI files and list.
        rule simulate_bold5000:
            output:
                raw=bold5000_simulated_files(),
                images=directory(bold5000_image_dir()),
            params:
                subjects=subjects("bold5000"),
                simulation=bold5000_config()["simulate"],
                seed=config["seed"],
            log:
                res("logs/simulate_bold5000.log"),
            benchmark:
                res("benchmarks/simulate_bold5000.tsv")
            threads: 1
            resources:
                mem_mb=simulation_mem_mb("bold5000"),
                runtime=10,
            conda:
                "../../envs/brains.yaml"
            script:
                "../scripts/simulate_bold5000.py"

    rule brains_bold5000:
        input:
            unpack(bold5000_raw_files),
        output:
            res("brains/bold5000/{subject}.h5"),
        params:
            rois=bold5000_config()["rois"],
            hemispheres=bold5000_config()["hemispheres"],
            cv_groups=bold5000_config()["cv_groups"],
            simulated=is_simulated("bold5000"),
        log:
            res("logs/brains_bold5000/{subject}.log"),
        benchmark:
            res("benchmarks/brains_bold5000/{subject}.tsv")
        threads: 1
        resources:
            mem_mb=mem_mb_from_inputs(4, 1000),
            runtime=runtime_from_inputs(0.1, 10),
        conda:
            "../../envs/brains.yaml"
        script:
            "../scripts/brains_bold5000.py"
