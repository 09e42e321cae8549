nullif(current_setting('pgwarden.actor', true), ''),
                nullif(current_setting('pgwarden.tenant', true), ''),
                nullif(current_setting('pgwarden.reason', true), ''),
                nullif(current_setting('pgwarden.request_id', true), ''),
                session_user,
                -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
                coalesce(nullif(current_setting('role'), 'none'), session_user),
                inet_client_addr(), current_setting('application_name'), pg_backend_pid()