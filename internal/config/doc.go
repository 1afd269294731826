// Package config is dsgate's configuration file: its schema (the field
// comments are the reference), defaults, strict decoding and validation.
//
// Order: Default() -> decode the YAML file strictly (an unknown key is an
// error naming its line) -> expandAll: one walk over the Config struct
// expands ${NAME} and ${NAME:-default} in every string and resolves every
// Secret (${ENV} or file: references), so a new field cannot be forgotten
// -> normalize (derived defaults) -> Validate(), which is pure and reports
// every problem with its path. Only internal/server and internal/cli import
// this package.
package config
