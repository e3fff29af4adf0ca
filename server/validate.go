package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// checkNonNegative walks v (a configuration struct) and reports the first
// duration or number below zero, naming it by its JSON path
// ("session.idleTimeout", "groups[0].files[1].multicast.multicastWindowDuration").
// Every field added to the configuration is covered without a line of its
// own; a field where a negative value means something is tagged
// `config:"signed"`.
func checkNonNegative(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkNonNegative(v.Elem(), path)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Tag.Get("config") == "signed" {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			sub := name
			if f.Anonymous {
				sub = path // embedded: its fields are at this level in JSON
			} else if path != "" {
				sub = path + "." + name
			}
			if err := checkNonNegative(v.Field(i), sub); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkNonNegative(v.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n := v.Int(); n < 0 {
			if d, ok := v.Interface().(Duration); ok {
				return fmt.Errorf("%s: %v is negative", path, time.Duration(d))
			}
			return fmt.Errorf("%s: %d is negative", path, n)
		}
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); f < 0 {
			return fmt.Errorf("%s: %v is negative", path, f)
		}
	}
	return nil
}

// decodeError names what a JSON decoding error is about: the field (with
// its JSON path) of a value of the wrong type, or the line and column of a
// syntax error in src.
func decodeError(err error, src []byte) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		if te.Type == reflect.TypeFor[Duration]() {
			return fmt.Errorf("%s: %s is not a duration (want a string such as \"15s\" or \"1m30s\", or a number of seconds)", te.Field, te.Value)
		}
		return fmt.Errorf("%s: cannot use %s as %s", te.Field, te.Value, te.Type)
	case errors.As(err, &se):
		line, col := lineCol(src, se.Offset)
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	}
	return err
}

// lineCol converts the offset of a json.SyntaxError (just after the byte
// at fault) into the 1-based line and column of that byte.
func lineCol(src []byte, off int64) (line, col int) {
	off = min(max(off-1, 0), int64(len(src)))
	before := src[:off]
	line = 1 + strings.Count(string(before), "\n")
	col = int(off) - strings.LastIndexByte(string(before), '\n')
	return line, col
}
