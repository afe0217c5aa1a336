\set aid random_zipfian(1, 1000 * :scale, 0.5)
\set g random_gaussian(1, 10, 2.5)
\sleep 10 ms
SELECT * FROM t WHERE id  =:aid AND g = :g::int;
S~LECT :client_id;
