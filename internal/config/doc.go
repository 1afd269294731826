// Package config is dsgate's configuration file: its schema (the field
// comments are the reference), defaults, strict decoding and validation.
//
// Order: Default() -> decode the YAML file strictly (an unknown key is an
// error naming its line) -> resolve secrets (${ENV} or file: references) ->
// Validate(), which is pure and reports every problem with its path.
// Only internal/server and internal/cli import this package.
package config
