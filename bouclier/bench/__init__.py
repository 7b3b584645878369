"""The benchmark (`bouclier bench`): part of the library, like the engine it measures."""
