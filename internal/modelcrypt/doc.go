// Package modelcrypt encrypts model files (safetensors shards, GGUF files,
// tokenizer files) at rest with AES-256-GCM in a chunked streaming format, so
// weights can sit on shared disks, object stores and container images without
// being readable, and are decrypted only inside the pod that serves them.
//
// It backs `dsgate model encrypt|decrypt|verify` (internal/cli/model.go) and
// imports no other dsgate package. docs/model-encryption.md is the operator
// guide; the format below is normative.
//
// # File format, version 1
//
// A file is a header followed by one or more chunks. All integers are
// big-endian.
//
//	offset  size  field
//	0       8     magic "\x89DSENC\r\n"
//	8       1     version = 1
//	9       1     kdf: 0 = raw key, 1 = argon2id passphrase
//	10      4     chunk size C: plaintext bytes per chunk, 64 B .. 16 MiB
//	14      7     nonce prefix (random per file)
//	21      32    file salt (random per file)
//	53      1     key id length L, 1..64
//	54      L     key id, ASCII [A-Za-z0-9._-]
//	if kdf == 1:
//	54+L    4     argon2id time (passes), 1..16
//	58+L    4     argon2id memory in KiB, 8 MiB .. 1 GiB
//	62+L    1     argon2id threads, 1..16
//	63+L    16    argon2id salt
//
// The whole encoded header is the additional authenticated data (AAD) of
// every chunk, so changing any header byte makes every chunk fail.
//
// Keys: the keyring resolves the key id to a 32-byte master key, either
// directly (kdf 0) or as argon2id(passphrase, salt, time, memory, threads)
// (kdf 1). Each file gets its own AES-256 key,
//
//	file key = HKDF-SHA256(secret = master key, salt = file salt,
//	                       info = "dsgate modelcrypt v1 file key")
//
// so nonces never repeat under one AES key even if the same master key
// encrypts millions of files.
//
// Chunks: the plaintext is split into chunks of exactly C bytes; the last
// chunk holds 1..C bytes (0 bytes only when the whole plaintext is empty, in
// which case the file has exactly one, empty, chunk). Chunk i (counting from
// 0, at most 2^32-1) is stored as
//
//	AES-256-GCM-Seal(file key, nonce_i, plaintext_i, AAD = header) = ciphertext_i || tag_i (16 bytes)
//	nonce_i = nonce prefix (7) || uint32(i) (4) || final (1: 0x01 on the last chunk, else 0x00)
//
// This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015),
// as used by age and Tink: because the index and the final flag are in the
// nonce, reordering, dropping, duplicating or truncating chunks, appending
// data after the last chunk, or splicing chunks from another file all fail
// authentication. A reader knows a chunk is the last one when the stream ends
// right after it; it then opens it with final = 1.
//
// # Guarantees
//
// The streaming Decrypt writes a chunk only after its tag verified, in order,
// so every byte it writes is authentic, but a failed stream may have written
// a prefix. DecryptFile and DecryptTree write into a temporary file in the
// destination directory and rename it into place only after the final chunk
// verified; on any error the temporary file is removed, so no unauthenticated
// or incomplete plaintext is ever visible under the destination name. Verify
// authenticates without writing plaintext anywhere.
//
// Memory is bounded by the chunk size and the worker count (a few buffers of
// C+16 bytes per worker, capped at 64 MiB in total), independent of file
// size. Chunks are sealed and opened by a bounded worker pool and written in
// order.
//
// Key buffers read from key sources and derived keys are zeroed after use
// where Go allows it; the expanded AES key schedule inside crypto/aes cannot
// be zeroed from outside.
package modelcrypt
