package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const fakeS3Bucket = "dsgate-bench"

// startFakeS3 serves an in-memory S3-protocol server (gofakes3) on a
// loopback port of this process, with fakeS3Bucket made, and returns its
// host:port. It runs until the program ends; its log goes to dir.
func startFakeS3(dir string) (string, error) {
	backend := s3mem.New()
	if err := backend.CreateBucket(fakeS3Bucket); err != nil {
		return "", fmt.Errorf("gofakes3: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(dir, "gofakes3.log"))
	if err != nil {
		ln.Close()
		return "", err
	}
	srv := &http.Server{Handler: gofakes3.New(backend).Server(), ErrorLog: log.New(f, "", log.LstdFlags)}
	go srv.Serve(ln)
	return ln.Addr().String(), nil
}
