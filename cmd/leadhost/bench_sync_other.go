//go:build !linux

package main

import "errors"

// syncReference is measured on Linux only.
func syncReference(dir string, n int) []syncFigures {
	err := errors.New("measured on Linux only")
	return []syncFigures{{name: "fdatasync after a 4 KiB append", err: err}, {name: "msync of one dirty page in a 64 MiB map", err: err}}
}
