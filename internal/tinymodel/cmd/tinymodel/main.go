// Command tinymodel writes the engine tests' tiny models (see package
// tinymodel) into a directory, for running llama-server by hand:
//
//	go run ./internal/tinymodel/cmd/tinymodel -llama "$(scripts/llamacpp.sh)" -out /tmp/models
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/dsgate/dsgate/internal/tinymodel"
)

func main() {
	llama := flag.String("llama", "", "the directory scripts/llamacpp.sh prints (holds models/)")
	out := flag.String("out", ".", "directory to write the models into")
	flag.Parse()
	if *llama == "" {
		fmt.Fprintln(os.Stderr, "tinymodel: -llama is required (the output of scripts/llamacpp.sh)")
		os.Exit(2)
	}
	paths, err := tinymodel.WriteModels(*out, filepath.Join(*llama, "models"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tinymodel:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(paths))
	for name := range paths {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Println(paths[name])
	}
}
