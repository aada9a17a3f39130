"""Multi-agent knowledge reasoning (paper section 2.1.1; appendix B, Prompt Templates 1-4).

- templates.py  prompt templates (files in prompts/), their hashes
- inputs.py     what each agent reads (demand expressions, attributes, item metadata)
- schemas.py    pydantic answers + grammar schemas of every agent
- agents.py     Layer 1 taxonomy agents, Layer 2 refinement, Layer 3 item knowledge, single-agent baseline
- grounding.py  the grounding check of cited evidence against item metadata
- pipeline.py   `reaseq knowledge build`: resumable, cached, incremental artifacts
- summary.py, status.py  headline figures; api.py  the app's prompt lab
"""
