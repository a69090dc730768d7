package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

func makeTable(t *testing.T, db *database.DB) {
	t.Helper()
	if err := db.Conn(context.Background()).Exec("CREATE TABLE items (name TEXT NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
}

func insert(ctx context.Context, db *database.DB, name string) error {
	return db.Conn(ctx).Exec("INSERT INTO items (name) VALUES (?)", name).Error
}

func count(t *testing.T, db *database.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Conn(context.Background()).Raw("SELECT count(*) FROM items").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWithTx(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		makeTable(t, db)

		t.Run("commit", func(t *testing.T) {
			err := db.WithTx(ctx, func(ctx context.Context) error {
				if !db.InTx(ctx) {
					t.Error("fn's context carries no transaction")
				}
				return insert(ctx, db, "a")
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := count(t, db); n != 1 {
				t.Fatalf("count = %d after commit, want 1", n)
			}
		})

		t.Run("rollback on error", func(t *testing.T) {
			err := db.WithTx(ctx, func(ctx context.Context) error {
				if err := insert(ctx, db, "b"); err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("err = %v, want errBoom", err)
			}
			if n := count(t, db); n != 1 {
				t.Fatalf("count = %d after rollback, want 1", n)
			}
		})

		t.Run("rollback on panic", func(t *testing.T) {
			func() {
				defer func() { _ = recover() }()
				_ = db.WithTx(ctx, func(ctx context.Context) error {
					_ = insert(ctx, db, "p")
					panic("boom")
				})
			}()
			if n := count(t, db); n != 1 {
				t.Fatalf("count = %d after a panic, want 1", n)
			}
		})

		t.Run("nested calls join the outer transaction", func(t *testing.T) {
			err := db.WithTx(ctx, func(outer context.Context) error {
				if err := insert(outer, db, "c"); err != nil {
					return err
				}
				// The inner call sees the outer's uncommitted row: same transaction.
				if err := db.WithTx(outer, func(inner context.Context) error {
					var n int64
					if err := db.Conn(inner).Raw("SELECT count(*) FROM items WHERE name = 'c'").Scan(&n).Error; err != nil {
						return err
					}
					if n != 1 {
						t.Errorf("inner transaction does not see the outer's row")
					}
					return insert(inner, db, "d")
				}); err != nil {
					return err
				}
				return errBoom // rolls back both c and d
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("err = %v", err)
			}
			if n := count(t, db); n != 1 {
				t.Fatalf("count = %d, want 1: the nested insert outlived the outer rollback", n)
			}
		})

		t.Run("nested error rolls back the whole", func(t *testing.T) {
			err := db.WithTx(ctx, func(outer context.Context) error {
				if err := insert(outer, db, "e"); err != nil {
					return err
				}
				return db.WithTx(outer, func(inner context.Context) error { return errBoom })
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("err = %v", err)
			}
			if n := count(t, db); n != 1 {
				t.Fatalf("count = %d, want 1", n)
			}
		})

		t.Run("uncommitted rows are invisible outside", func(t *testing.T) {
			if db.Dialect() == database.SQLite {
				t.Skip("SQLite runs on one connection: a reader outside the transaction waits for it")
			}
			err := db.WithTx(ctx, func(ctx context.Context) error {
				if err := insert(ctx, db, "f"); err != nil {
					return err
				}
				if n := count(t, db); n != 1 {
					t.Errorf("outside the transaction count = %d, want 1", n)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := count(t, db); n != 2 {
				t.Fatalf("count = %d after commit, want 2", n)
			}
		})
	})
}

func TestWithTxOfAnotherDBDoesNotLeak(t *testing.T) {
	a := dbtest.New(t, database.SQLite)
	b := dbtest.New(t, database.SQLite)
	makeTable(t, a)
	makeTable(t, b)
	ctx := context.Background()
	err := a.WithTx(ctx, func(ctx context.Context) error {
		if b.InTx(ctx) {
			t.Error("b believes it is inside a's transaction")
		}
		return insert(ctx, b, "x") // goes to b's pool, not a's transaction
	})
	if err != nil {
		t.Fatal(err)
	}
	if count(t, b) != 1 || count(t, a) != 0 {
		t.Fatalf("a=%d b=%d, want a=0 b=1", count(t, a), count(t, b))
	}
}
