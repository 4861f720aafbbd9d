//go:build unix && !linux

package store

import (
	"errors"
	"os"
)

// allocate cannot give blocks without writing them here: the caller
// writes zeros.
func allocate(*os.File, int64) error { return errors.ErrUnsupported }
