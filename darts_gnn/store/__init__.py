"""Storage: atomic files (``files``), checkpoint manifests and content hashes (``manifest``), data-set
fingerprints (``fingerprint``). Below everything that writes or reads a file."""
