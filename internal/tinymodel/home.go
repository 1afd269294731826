package tinymodel

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// HomeEnv names the llama.cpp cache directory scripts/llamacpp.sh prints
// (bin/llama-server and models/); scripts/test.sh exports it.
const HomeEnv = "DSGATE_LLAMA_HOME"

// LlamaHome returns the llama.cpp cache directory: $DSGATE_LLAMA_HOME,
// else the newest build under ${XDG_CACHE_HOME:-~/.cache}/dsgate/llama.cpp.
func LlamaHome() (string, error) {
	if h := os.Getenv(HomeEnv); h != "" {
		return h, nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(home, ".cache")
	}
	bins, _ := filepath.Glob(filepath.Join(base, "dsgate", "llama.cpp", "*", "bin", "llama-server"))
	if len(bins) == 0 {
		return "", errors.New("no llama-server under " + filepath.Join(base, "dsgate", "llama.cpp"))
	}
	sort.Slice(bins, func(i, j int) bool { return modTime(bins[i]).After(modTime(bins[j])) })
	return filepath.Dir(filepath.Dir(bins[0])), nil
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
