package plan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// LoadFile builds a Model from a file or directory:
//   - a directory holding config.json (and optionally
//     model.safetensors.index.json for exact weight bytes);
//   - a config.json;
//   - a model.safetensors.index.json, with config.json beside it
//     ("metadata.total_size" gives the exact weight bytes);
//   - a single .safetensors file, with config.json beside it (the JSON
//     header gives exact tensor sizes);
//   - a .gguf file (header only is enough).
func LoadFile(path string) (Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Model{}, fmt.Errorf("loading model: %w", err)
	}
	if st.IsDir() {
		idx := filepath.Join(path, "model.safetensors.index.json")
		if _, err := os.Stat(idx); err == nil {
			return loadIndex(idx)
		}
		return loadConfig(filepath.Join(path, "config.json"))
	}
	name := strings.ToLower(filepath.Base(path))
	switch {
	case strings.HasSuffix(name, ".gguf") || hasGGUFMagic(path):
		return loadGGUF(path)
	case strings.HasSuffix(name, ".safetensors"):
		return loadSafetensors(path)
	case strings.HasSuffix(name, ".index.json"):
		return loadIndex(path)
	default:
		return loadConfig(path)
	}
}

func hasGGUFMagic(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	_, err = io.ReadFull(f, b[:])
	return err == nil && string(b[:]) == "GGUF"
}

func modelName(path string) string {
	dir := filepath.Base(filepath.Dir(path))
	if dir == "." || dir == "/" {
		return filepath.Base(path)
	}
	return dir
}

func loadConfig(path string) (Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return Model{}, fmt.Errorf("loading model: %w", err)
	}
	defer f.Close()
	c, err := ParseConfig(f)
	if err != nil {
		return Model{}, fmt.Errorf("%s: %w", path, err)
	}
	m := FromConfig(modelName(path), c)
	m.Source = "computed from " + path
	return m, nil
}

func loadGGUF(path string) (Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return Model{}, fmt.Errorf("loading model: %w", err)
	}
	defer f.Close()
	g, err := ReadGGUF(f)
	if err != nil {
		return Model{}, fmt.Errorf("%s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if v, ok := g.Metadata["general.name"].(string); ok && v != "" {
		name = v
	}
	return g.Model(name)
}

// safetensorsIndex is model.safetensors.index.json.
type safetensorsIndex struct {
	Metadata struct {
		TotalSize json.Number `json:"total_size"`
	} `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// ParseSafetensorsIndex returns the total weight bytes an index declares.
func ParseSafetensorsIndex(r io.Reader) (float64, error) {
	var idx safetensorsIndex
	if err := json.NewDecoder(r).Decode(&idx); err != nil {
		return 0, fmt.Errorf("decoding safetensors index: %w", err)
	}
	total, err := idx.Metadata.TotalSize.Float64()
	if err != nil || total <= 0 {
		return 0, errors.New("safetensors index lacks metadata.total_size")
	}
	return total, nil
}

func loadIndex(path string) (Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return Model{}, fmt.Errorf("loading model: %w", err)
	}
	defer f.Close()
	total, err := ParseSafetensorsIndex(f)
	if err != nil {
		return Model{}, fmt.Errorf("%s: %w", path, err)
	}
	return withConfigBeside(path, total)
}

// ParseSafetensorsHeader reads a .safetensors header (little-endian uint64
// length, then a JSON map of tensor name to dtype/shape/offsets) and
// returns the bytes of tensor data it describes.
func ParseSafetensorsHeader(r io.Reader) (float64, error) {
	var n uint64
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return 0, fmt.Errorf("reading safetensors header length: %w", err)
	}
	if n == 0 || n > 100<<20 {
		return 0, fmt.Errorf("safetensors header of %d bytes: corrupt", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, fmt.Errorf("reading safetensors header: %w", err)
	}
	var hdr map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(buf)).Decode(&hdr); err != nil {
		return 0, fmt.Errorf("decoding safetensors header: %w", err)
	}
	var total float64
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var t struct {
			DType       string   `json:"dtype"`
			DataOffsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return 0, fmt.Errorf("tensor %q: %w", name, err)
		}
		if len(t.DataOffsets) == 2 && t.DataOffsets[1] >= t.DataOffsets[0] {
			total += float64(t.DataOffsets[1] - t.DataOffsets[0])
		}
	}
	return total, nil
}

func loadSafetensors(path string) (Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return Model{}, fmt.Errorf("loading model: %w", err)
	}
	defer f.Close()
	total, err := ParseSafetensorsHeader(f)
	if err != nil {
		return Model{}, fmt.Errorf("%s: %w", path, err)
	}
	return withConfigBeside(path, total)
}

func withConfigBeside(path string, weightBytes float64) (Model, error) {
	cfg := filepath.Join(filepath.Dir(path), "config.json")
	m, err := loadConfig(cfg)
	if err != nil {
		return Model{}, fmt.Errorf("%s needs config.json beside it for the architecture: %w", path, err)
	}
	m.FixedWeightBytes = weightBytes
	m.FixedPrecision = m.NativePrecision + " (checkpoint)"
	m.Source = "exact weight bytes from " + path + "; architecture from " + cfg
	return m, nil
}
