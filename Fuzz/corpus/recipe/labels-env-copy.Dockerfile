# comment
FROM src:1
LABEL modified_append_tag=-hotfix
LABEL "com.example.team"="ops team" single='it''s' plain=yes
ENV A=1 \
    B="two words"
ENV LEGACY value with spaces
copy ["with space.txt", "/opt/"]
COPY --chmod=0600 --chown=0:0 hotfix.conf /etc/hotfix.conf
ADD app/ /opt/app/
WORKDIR /opt
USER 1000:1000
ENTRYPOINT ["/opt/run.sh", "--flag"]
CMD echo serving
