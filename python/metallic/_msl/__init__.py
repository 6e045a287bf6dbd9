"""The MSL-to-C++ translator of the host device (standard library only; runs at build time too)."""
