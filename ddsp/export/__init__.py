"""Export to plugin hosts: files that Neutone FX, nn~ (Max/MSP, Pure Data) and PyTorch 2
native hosts load and play in real time. See :mod:`ddsp.export.formats`."""

__all__: list[str] = []
