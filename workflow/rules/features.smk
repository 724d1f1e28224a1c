# Stage 5: stimulus representations per model variant (base, or a tuned checkpoint), cached
# in HDF5 (one file holds every configured layer, so a layer sweep costs one forward pass).
# A prompt-tuned model's soft prompt is prepended exactly as in training and excluded from
# pooling. A ViT's features are those of the stimulus images (features.vision: layers, [CLS] or
# mean of the patch tokens; visual prompt tokens never pooled).


rule features:
    input:
        stimuli=feature_stimuli,
        images=feature_images,
        model=built_model_input,
        checkpoint=feature_variant_input,
    output:
        res("features/{model}/{task}/{method}.h5"),
    params:
        model_source=lambda wildcards: model_source(wildcards.model),
        settings=feature_settings,
        modality=lambda wildcards: model_config(wildcards.model)["modality"],
    log:
        res("logs/features/{model}/{task}/{method}.log"),
    benchmark:
        res("benchmarks/features/{model}/{task}/{method}.tsv")
    threads: 1
    resources:
        mem_mb=inference_mem_mb,
        runtime=30,
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/features.py"
