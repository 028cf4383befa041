"""The only module that imports lmdeploy (pinned to 0.18.0; its Python API changed in 0.16 and 0.18).

Everything else calls the small functions here, so an lmdeploy upgrade touches one file. Two sections:
serving (pipelines and generation configs, used by ``engine.lmdeploy_backend``) and quantization
(``lite`` AWQ, used by ``engine.quantize``). lmdeploy is imported inside the functions, never at module import.
"""

from __future__ import annotations

# ---- serving -------------------------------------------------------------------------------------------------

# ---- quantization --------------------------------------------------------------------------------------------
