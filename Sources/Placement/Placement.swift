// The placement engine: see the files of this module.
