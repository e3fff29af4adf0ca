package netstream

import (
	"fmt"
	"path"
	"strings"
)

// MatchPattern reports whether s (an application or stream name) matches
// pattern, in path.Match syntax (*, ?, [...]); an empty pattern matches
// anything. Configuration selects streams this way (relay rules, group
// publishing rules).
func MatchPattern(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// CheckPattern reports a malformed pattern.
func CheckPattern(pattern string) error {
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return nil
}

// ExpandName replaces {name}, {app} and {instance} in template by those of
// a stream.
func ExpandName(template, app, inst, name string) string {
	return strings.NewReplacer("{name}", name, "{app}", app, "{instance}", inst).Replace(template)
}
