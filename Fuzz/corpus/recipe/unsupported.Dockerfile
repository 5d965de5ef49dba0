FROM a
COPY --from=build /x /x
ADD https://example.com/x.tgz /x/
LABEL a="open
