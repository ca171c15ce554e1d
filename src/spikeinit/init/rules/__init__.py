"""The initialisation rules, one module per family: each holds its tensor-level maths
(``torch.nn.init`` style) and its layer-level hook.

* :mod:`.fluctuation`: fluctuation-driven initialisation (Rossbroich, Gygax &
  Zenke 2022), on spikeinit's own layers and, measured, on foreign models;
* :mod:`.dale` and :mod:`.dale_balance`: Dale's-law layers (the same paper;
  stork's exponential initialiser) and their measured E/I balance;
* :mod:`.micheli`: Micheli et al. (2024) and its reset-aware and finite-width forms;
* :mod:`.baselines`: He/Kaiming, Glorot/Xavier and PyTorch's default;
* :mod:`.balanced`: our propagation rules beyond Micheli et al. (balanced rows);
* :mod:`.perez_nieves`: rate-preserving variance propagation (Perez-Nieves &
  Goodman 2023);
* :mod:`.base` and :mod:`.context`: what every rule shares (the
  :class:`~.context.RuleContext`, the default layer hooks, the registry's
  :class:`~.base.Rule`).

The registry (:data:`spikeinit.catalog.INIT_RULES`, :mod:`spikeinit.init.registry`)
names each rule's entry here; docs/where-things-live.md says how to add one.
"""
