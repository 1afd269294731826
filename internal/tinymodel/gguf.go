package tinymodel

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// The GGUF layout follows ggml's docs/gguf.md (version 3): magic "GGUF",
// uint32 version, uint64 tensor count, uint64 metadata count, the metadata
// key/value pairs, one info record per tensor (name, dims, ggml type,
// offset), padding to the alignment, then the tensor data, each tensor
// aligned. internal/plan reads headers for sizing; this package reads and
// writes whole files, arrays included, for the tests' tiny models.

// Metadata value types of GGUF.
const (
	typeUint8   uint32 = 0
	typeInt8    uint32 = 1
	typeUint16  uint32 = 2
	typeInt16   uint32 = 3
	typeUint32  uint32 = 4
	typeInt32   uint32 = 5
	typeFloat32 uint32 = 6
	typeBool    uint32 = 7
	typeString  uint32 = 8
	typeArray   uint32 = 9
	typeUint64  uint32 = 10
	typeInt64   uint32 = 11
	typeFloat64 uint32 = 12
)

// Tensor types this package writes (ggml_type numbers).
const (
	TypeF32 uint32 = 0
	TypeF16 uint32 = 1
)

const alignment = 32

// KV is one metadata pair. Value is a string, bool, uint8..uint64,
// int8..int64, float32, float64, or an Array.
type KV struct {
	Key   string
	Value any
}

// Array is a metadata array of one element type (a typeX constant).
type Array struct {
	Elem  uint32
	Items []any
}

// Tensor is one tensor: Dims[0] is the row length (ggml's ne[0]); Data
// holds the raw little-endian values of Type.
type Tensor struct {
	Name string
	Dims []uint64
	Type uint32
	Data []byte
}

// File is a GGUF file: metadata in file order and tensors.
type File struct {
	KV      []KV
	Tensors []Tensor
}

// Get returns the value of key, or nil.
func (f *File) Get(key string) any {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// Set replaces the value of key, or appends the pair.
func (f *File) Set(key string, v any) {
	for i := range f.KV {
		if f.KV[i].Key == key {
			f.KV[i].Value = v
			return
		}
	}
	f.KV = append(f.KV, KV{key, v})
}

// Strings returns the string array at key (nil when absent or not one).
func (f *File) Strings(key string) []string {
	a, ok := f.Get(key).(Array)
	if !ok || a.Elem != typeString {
		return nil
	}
	out := make([]string, len(a.Items))
	for i, it := range a.Items {
		out[i] = it.(string)
	}
	return out
}

// Read parses a whole GGUF file (metadata and tensor infos; tensor data is
// not kept: the vocabulary files this package reads have no tensors).
func Read(r io.Reader) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<16)}
	var magic [4]byte
	d.full(magic[:])
	if d.err == nil && string(magic[:]) != "GGUF" {
		return nil, errors.New("not a GGUF file")
	}
	version := d.u32()
	nTensors, nKV := d.u64(), d.u64()
	if d.err == nil && (version < 2 || version > 3) {
		return nil, fmt.Errorf("unsupported GGUF version %d", version)
	}
	f := &File{}
	for i := uint64(0); i < nKV && d.err == nil; i++ {
		k := d.str()
		f.KV = append(f.KV, KV{k, d.value(d.u32())})
	}
	for i := uint64(0); i < nTensors && d.err == nil; i++ {
		t := Tensor{Name: d.str()}
		nd := d.u32()
		for j := uint32(0); j < nd && j < 8; j++ {
			t.Dims = append(t.Dims, d.u64())
		}
		t.Type = d.u32()
		_ = d.u64() // offset
		f.Tensors = append(f.Tensors, t)
	}
	if d.err != nil {
		return nil, fmt.Errorf("reading GGUF: %w", d.err)
	}
	return f, nil
}

type decoder struct {
	r   *bufio.Reader
	err error
	buf [8]byte
}

func (d *decoder) full(b []byte) {
	if d.err == nil {
		_, d.err = io.ReadFull(d.r, b)
	}
}

func (d *decoder) u32() uint32 {
	d.full(d.buf[:4])
	return binary.LittleEndian.Uint32(d.buf[:4])
}

func (d *decoder) u64() uint64 {
	d.full(d.buf[:8])
	return binary.LittleEndian.Uint64(d.buf[:8])
}

func (d *decoder) str() string {
	n := d.u64()
	if n > 64<<20 {
		d.err = fmt.Errorf("string of %d bytes", n)
		return ""
	}
	b := make([]byte, n)
	d.full(b)
	return string(b)
}

func (d *decoder) value(t uint32) any {
	switch t {
	case typeString:
		return d.str()
	case typeArray:
		elem, n := d.u32(), d.u64()
		if n > 1<<24 {
			d.err = fmt.Errorf("array of %d elements", n)
			return nil
		}
		a := Array{Elem: elem, Items: make([]any, 0, n)}
		for i := uint64(0); i < n && d.err == nil; i++ {
			a.Items = append(a.Items, d.value(elem))
		}
		return a
	case typeUint8, typeInt8, typeBool:
		d.full(d.buf[:1])
		switch t {
		case typeUint8:
			return d.buf[0]
		case typeInt8:
			return int8(d.buf[0])
		}
		return d.buf[0] != 0
	case typeUint16, typeInt16:
		d.full(d.buf[:2])
		v := binary.LittleEndian.Uint16(d.buf[:2])
		if t == typeInt16 {
			return int16(v)
		}
		return v
	case typeUint32:
		return d.u32()
	case typeInt32:
		return int32(d.u32())
	case typeFloat32:
		return math.Float32frombits(d.u32())
	case typeUint64:
		return d.u64()
	case typeInt64:
		return int64(d.u64())
	case typeFloat64:
		return math.Float64frombits(d.u64())
	}
	d.err = fmt.Errorf("unknown metadata type %d", t)
	return nil
}

// Write encodes f as GGUF version 3.
func (f *File) Write(w io.Writer) error {
	e := &encoder{w: bufio.NewWriterSize(w, 1<<16)}
	e.bytes([]byte("GGUF"))
	e.u32(3)
	e.u64(uint64(len(f.Tensors)))
	e.u64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		e.str(kv.Key)
		t, err := typeOf(kv.Value)
		if err != nil {
			return fmt.Errorf("metadata %s: %w", kv.Key, err)
		}
		e.u32(t)
		e.value(kv.Value)
	}
	offset := uint64(0)
	for _, t := range f.Tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(t.Type)
		e.u64(offset)
		offset += padded(uint64(len(t.Data)))
	}
	e.pad()
	for _, t := range f.Tensors {
		e.bytes(t.Data)
		e.pad()
	}
	if e.err != nil {
		return e.err
	}
	return e.w.Flush()
}

func padded(n uint64) uint64 { return (n + alignment - 1) / alignment * alignment }

// typeOf names the GGUF type of a metadata value.
func typeOf(v any) (uint32, error) {
	switch v.(type) {
	case uint8:
		return typeUint8, nil
	case int8:
		return typeInt8, nil
	case uint16:
		return typeUint16, nil
	case int16:
		return typeInt16, nil
	case uint32:
		return typeUint32, nil
	case int32:
		return typeInt32, nil
	case float32:
		return typeFloat32, nil
	case bool:
		return typeBool, nil
	case string:
		return typeString, nil
	case Array:
		return typeArray, nil
	case uint64:
		return typeUint64, nil
	case int64:
		return typeInt64, nil
	case float64:
		return typeFloat64, nil
	}
	return 0, fmt.Errorf("unsupported value type %T", v)
}

type encoder struct {
	w   *bufio.Writer
	n   uint64
	err error
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
		e.n += uint64(len(b))
	}
}

func (e *encoder) u32(v uint32) { e.bytes(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *encoder) u64(v uint64) { e.bytes(binary.LittleEndian.AppendUint64(nil, v)) }

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.bytes([]byte(s))
}

func (e *encoder) pad() { e.bytes(make([]byte, padded(e.n)-e.n)) }

func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.bytes([]byte{x})
	case int8:
		e.bytes([]byte{byte(x)})
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		e.bytes([]byte{b})
	case uint16:
		e.bytes(binary.LittleEndian.AppendUint16(nil, x))
	case int16:
		e.bytes(binary.LittleEndian.AppendUint16(nil, uint16(x)))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	case Array:
		e.u32(x.Elem)
		e.u64(uint64(len(x.Items)))
		for _, it := range x.Items {
			e.value(it)
		}
	}
}
