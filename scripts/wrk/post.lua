-- A fixed form POST: wrk -s post.lua URL, with BODY and AUTH (a Basic credential) in the
-- environment. Used for client_credentials and introspection.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("AUTH")
