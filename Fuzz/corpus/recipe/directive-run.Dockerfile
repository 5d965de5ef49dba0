# escape=`
FROM a AS b
RUN dnf -y update
HEALTHCHECK CMD true
