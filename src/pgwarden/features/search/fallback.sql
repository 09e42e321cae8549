
    union all
    select f.item, f.rank, left({headline}, 200), true from (
        select t as item, greatest({similarities})::real as rank
          from {table} t
         where not exists (select from {table} m, q where m.{vector} @@ q.tsq{live_m})
           and ({matches}){live}
         order by 2 desc, {order_key}
         limit $2 offset $3
    ) f
