package database

import "github.com/google/uuid"

// NewID returns a new row id: a UUIDv7, so that ids sort by creation time and keep
// indexes compact.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidID reports whether id is a UUID in canonical form. Ids from clients are checked
// before they reach a query: PostgreSQL would refuse a malformed one with an error.
func ValidID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}
