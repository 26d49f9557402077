"""The application in the e2e lab: writes one row every PERIOD seconds through the VIP.

Run inside the client namespace: writer.py HOST USER PASSWORD PERIOD [FIRST_ID]. Each attempt
uses a new id (from FIRST_ID, default 1: a later writer of the same test starts past the ids an
earlier one used, or it would only hit duplicate keys); a row counts as acknowledged only once COMMIT returned, and is printed as
`ack ID WALLTIME SERVER_ID` (the server that acknowledged it); failures as `err ID WALLTIME MSG`.
The test compares acknowledged ids with the rows present on the surviving database.
"""
import sys
import time

import pymysql


def main():
    host, user, password, period = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    conn, server_id = None, None
    next_id = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    while True:
        start = time.time()
        i, next_id = next_id, next_id + 1
        try:
            if conn is None:
                conn = pymysql.connect(host=host, port=3306, user=user, password=password,
                                       database="app", connect_timeout=1, read_timeout=2,
                                       write_timeout=2, autocommit=False)
                with conn.cursor() as cur:
                    cur.execute("SELECT @@server_id")
                    server_id = cur.fetchone()[0]
            with conn.cursor() as cur:
                cur.execute("INSERT INTO writes (id, writer_ts, server_id) VALUES (%s, %s, %s)",
                            (i, start, server_id))
            conn.commit()
            print(f"ack {i} {time.time():.6f} {server_id}", flush=True)
        except Exception as e:  # any failure: report it, reconnect, go on with a new id
            msg = str(e).replace("\n", " ")[:200]
            print(f"err {i} {time.time():.6f} {msg}", flush=True)
            try:
                if conn is not None:
                    conn.close()
            except Exception:
                pass
            conn = None
        time.sleep(max(0.0, period - (time.time() - start)))


if __name__ == "__main__":
    main()
