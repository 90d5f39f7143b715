"""The evaluation suite (torch-free): every shipped generator measured on its dataset's held-out split.

- :mod:`.distances`: Fréchet distance, KID, precision/recall between feature sets;
- :mod:`.sprites`: pixel-art statistics and the memorization rate on uint8 sprites;
- :mod:`.evaluator`: the frozen evaluator network (bundle family ``evaluator``) that gives the features;
- :mod:`.suite`: sampling each generator and measuring it beside real held-out sprites;
- :mod:`.report`: the markdown table, the JSON and the sample sheets.

See ``docs/evaluation.md``.
"""
