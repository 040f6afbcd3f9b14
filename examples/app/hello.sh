#!/bin/sh
# The service of the seed document, as its operators create it.
docker service create --name helloworld --replicas 5 --network my-network \
  --constraint engine.labels.cloud==aliyun --constraint node.role==manager \
  -p 80:80/tcp nginx:latest
