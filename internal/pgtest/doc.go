// Package pgtest gives tests a real, throwaway PostgreSQL database.
//
// Every call to [URL] (or [DB]) creates a fresh, empty database with a unique
// name and drops it again when the test finishes, so tests that use it can
// safely call t.Parallel.
//
// Where the databases live:
//
//   - If the TEST_DATABASE_URL environment variable is set, the per-test
//     databases are created on that server. Its role must be allowed to
//     CREATE DATABASE. Both URL ("postgres://user@host:5432/db?sslmode=disable")
//     and key=value ("host=... user=...") forms are accepted.
//   - Otherwise the first test that asks for a database starts a private
//     PostgreSQL server for the whole test binary: initdb into a new temporary
//     directory, with fsync, synchronous_commit and full_page_writes off,
//     listening on 127.0.0.1 only, on a free port. The server binaries are
//     looked up in $PATH and then in /usr/lib/postgresql/*/bin (newest version
//     first). PostgreSQL refuses to run as root, so when the tests run as root
//     the server runs as the "postgres" system user.
//
// If the server binaries are missing, tests fail with a message that explains
// how to install them; they are never skipped silently. A developer without
// PostgreSQL may set TIERFLOW_PGTEST_SKIP=1 to skip database tests instead
// (this has no effect when TEST_DATABASE_URL is set). CI must not set it.
//
// A package that uses pgtest must call [Main] from its TestMain, which stops
// the server and removes its directory when the tests are done:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSegments(t *testing.T) {
//		t.Parallel()
//		db := pgtest.DB(t) // *sql.DB on a new, empty database
//		if _, err := db.Exec(`CREATE TABLE customers (id int PRIMARY KEY)`); err != nil {
//			t.Fatal(err)
//		}
//	}
//
// Should a test binary die without running Main's clean-up (a panic, a test
// timeout, SIGKILL), the kernel stops the server because its parent died, and
// the next test binary that starts a server removes the abandoned directory.
package pgtest
