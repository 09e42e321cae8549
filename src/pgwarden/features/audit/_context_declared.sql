nullif(current_setting('pgwarden.actor', true), ''),
                nullif(current_setting('pgwarden.tenant', true), ''),
                nullif(current_setting('pgwarden.reason', true), ''),
                nullif(current_setting('pgwarden.request_id', true), '')