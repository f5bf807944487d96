"""DreamGen Bench: score dream videos for instruction following and physics alignment.

Judges are pluggable (`JUDGES`, chosen by name): `sim` decides from the pixels of our own sim
tasks, `vlm` asks a local vision-language model (transformers), `openai` asks an OpenAI-compatible
chat-completions endpoint. `runner.run_bench` writes the reference's CSVs and the means.
"""

from dreamgen_core.registry import Registry

JUDGES = Registry("dream judge", {
    "sim": "dreamgen_core.worldmodel.bench.sim_judge:SimJudge",
    "vlm": "dreamgen_core.worldmodel.bench.vlm_judge:VlmJudge",
    "openai": "dreamgen_core.worldmodel.bench.openai_judge:OpenAIJudge",
})
