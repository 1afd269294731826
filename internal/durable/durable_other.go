//go:build !(linux && (amd64 || arm64))

package durable

import "os"

func syncFile(f *os.File) error { return f.Sync() }
