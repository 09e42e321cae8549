-- The tenancy key: HMAC-SHA256 key of the signed tenant context (see ../_tenant_sql.sql).
-- Kept in warden.secrets, which no application role can read; the padded inner and outer
-- keys are stored too so that warden.tenant() costs two sha256() calls. 32 bytes from two
-- gen_random_uuid() (PostgreSQL's strong random source; 244 random bits).
do $$
declare
    k bytea := decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');
    padded bytea := k || decode(repeat('00', 32), 'hex');
    ipad bytea := padded;
    opad bytea := padded;
begin
    for i in 0..63 loop
        ipad := set_byte(ipad, i, get_byte(padded, i) # 54);   -- 0x36
        opad := set_byte(opad, i, get_byte(padded, i) # 92);   -- 0x5c
    end loop;
    insert into warden.secrets values
        ('tenancy_key', encode(k, 'hex')),
        ('tenancy_ipad', encode(ipad, 'hex')),
        ('tenancy_opad', encode(opad, 'hex'))
    on conflict do nothing;
end
$$;
