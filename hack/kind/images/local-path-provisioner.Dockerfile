ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY local-path-provisioner /usr/bin/local-path-provisioner
CMD ["local-path-provisioner"]
